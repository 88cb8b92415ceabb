export { classifierConfigSchema, type ClassifierConfig, type ClassifierConfigInput } from './config.ts';
export { SequenceClassifier, type ClassifierForwardOptions, type ClassifierOutput } from './model.ts';
