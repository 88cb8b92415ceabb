export { grad, GradError } from './grad.ts';
