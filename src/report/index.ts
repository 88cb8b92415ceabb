// The HTML report of a distillation run (one self-contained file, charts by an inlined Chart.js).
export {
  chartJsSource,
  renderReport,
  runData,
  writeReport,
  type GenerationSample,
  type PredictionSample,
  type ReportInput,
  type ReportRun,
  type ReportSamples,
} from './report.ts';
