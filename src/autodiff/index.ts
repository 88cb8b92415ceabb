export { grad, GradError } from './grad.ts';
export { chunkedTerms, chunkRows, type ChunkedInput, type ChunkedTermsSpec } from './chunked.ts';
