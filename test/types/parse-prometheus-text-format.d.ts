// The package ships no types: what its README documents (prom2json's JSON shape).
declare module 'parse-prometheus-text-format' {
  export interface MetricFamily {
    help: string
    metrics: Array<{labels?: Record<string, string>; value: string}>
    name: string
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
  }

  export default function parsePrometheusTextFormat(text: string): MetricFamily[]
}
