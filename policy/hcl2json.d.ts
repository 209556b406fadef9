// Types for @cdktn/hcl2json, mapped in tsconfig.json "paths". The package's own bridge.d.ts
// starts with `/// <reference lib="dom" />`, which would pull the DOM library into the whole
// project and change Node's Buffer/crypto typings everywhere; the runtime module is the
// package's own, only its types come from here (the same signatures, without that line).
import type { ExpressionType } from '@cdktn/hcl2json/build/syntax-tree.js';

export declare function parse(filename: string, contents: string): Promise<Record<string, any>>;
export declare function getExpressionAst(filename: string, expression: string): Promise<ExpressionType | null>;
export * as TFExpressionSyntaxTree from '@cdktn/hcl2json/build/syntax-tree.js';
