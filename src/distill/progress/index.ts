export {
  formatDuration,
  Progress,
  type ProgressOptions,
  type ProgressStream,
  type ProgressUpdate,
} from './progress.ts';
