// A small Prometheus registry: counters, gauges read at scrape time, and one latency
// histogram — exposed as text format 0.0.4 at GET /metrics. No client library needed for
// this much; labels are fixed sets chosen by the code, never request data.
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

interface Series {
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
}

export class Metrics {
  #series = new Map<string, Series>();
  #counters = new Map<string, Map<string, { labels: Labels; value: number }>>();
  #gauges = new Map<string, () => number>();
  #histograms = new Map<string, Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>>();

  constructor() {
    this.define('attested_pack_http_requests_total', 'counter', 'HTTP requests by route, method and status');
    this.define('attested_pack_http_request_duration_seconds', 'histogram', 'HTTP request latency by route');
    this.define('attested_pack_enclave_errors_total', 'counter', 'Enclave calls that failed, by error code');
    this.define('attested_pack_packs_total', 'counter', 'Pack requests by outcome');
    this.define('attested_pack_egress_bytes_total', 'counter', 'Bytes relayed by the egress proxy, by direction');
    this.define('attested_pack_egress_refused_total', 'counter', 'Egress connections refused');
    this.define('attested_pack_auth_failures_total', 'counter', 'Refused credentials, by code');
  }

  define(name: string, type: Series['type'], help: string): void {
    this.#series.set(name, { help, type });
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    let m = this.#counters.get(name);
    if (m === undefined) this.#counters.set(name, (m = new Map()));
    const key = labelText(labels);
    const cur = m.get(key);
    if (cur === undefined) m.set(key, { labels, value: by });
    else cur.value += by;
  }

  gauge(name: string, help: string, read: () => number): void {
    this.define(name, 'gauge', help);
    this.#gauges.set(name, read);
  }

  observe(name: string, labels: Labels, seconds: number): void {
    let m = this.#histograms.get(name);
    if (m === undefined) this.#histograms.set(name, (m = new Map()));
    const key = labelText(labels);
    let h = m.get(key);
    if (h === undefined) m.set(key, (h = { labels, counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= (BUCKETS[i] as number)) h.counts[i] = (h.counts[i] ?? 0) + 1;
    h.sum += seconds;
    h.count++;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, s] of this.#series) {
      out.push(`# HELP ${name} ${s.help}`, `# TYPE ${name} ${s.type}`);
      if (s.type === 'counter') {
        for (const { labels, value } of this.#counters.get(name)?.values() ?? []) out.push(`${name}${labelText(labels)} ${value}`);
      } else if (s.type === 'gauge') {
        const read = this.#gauges.get(name);
        if (read !== undefined) out.push(`${name} ${read()}`);
      } else {
        for (const h of this.#histograms.get(name)?.values() ?? []) {
          BUCKETS.forEach((b, i) => out.push(`${name}_bucket${labelText({ ...h.labels, le: String(b) })} ${h.counts[i]}`));
          out.push(`${name}_bucket${labelText({ ...h.labels, le: '+Inf' })} ${h.count}`);
          out.push(`${name}_sum${labelText(h.labels)} ${h.sum}`, `${name}_count${labelText(h.labels)} ${h.count}`);
        }
      }
    }
    return `${out.join('\n')}\n`;
  }
}
