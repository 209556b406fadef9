// What action.yml runs (compiled: cli/action/entry.js).
import { runAction } from './main.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.exitCode = await runAction();
