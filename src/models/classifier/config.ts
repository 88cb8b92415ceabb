// Sequence-classifier configuration: a decoder body of any family plus a pooled linear head, as
// transformers' GPT2ForSequenceClassification / LlamaForSequenceClassification build it.
import { z } from 'zod';
import { gpt2ConfigSchema } from '../gpt2/config.ts';
import { llamaConfigSchema } from '../llama/config.ts';

export const classifierConfigSchema = z
  .object({
    /** The decoder that reads the text; its LM head is not used (and not created). */
    body: z.discriminatedUnion('family', [
      z.object({ family: z.literal('gpt2'), config: gpt2ConfigSchema }),
      z.object({ family: z.literal('llama'), config: llamaConfigSchema }),
    ]),
    numLabels: z.number().int().positive(),
    /**
     * 'last': the final hidden state of the last non-pad token (transformers' rule: the rightmost one);
     * 'mean': the average over non-pad tokens.
     */
    pooling: z.enum(['last', 'mean']).default('last'),
    /** Marks padding when forward gets no mask (HF: pad_token_id); such tokens are then also hidden from attention. */
    padTokenId: z.number().int().optional(),
    /** Label names by index (HF: id2label); defaults to LABEL_0, LABEL_1, ... when written. */
    labels: z.array(z.string()).optional(),
  })
  .refine((c) => !c.labels || c.labels.length === c.numLabels, {
    message: 'labels must name exactly numLabels classes',
  });

export type ClassifierConfig = z.output<typeof classifierConfigSchema>;
export type ClassifierConfigInput = z.input<typeof classifierConfigSchema>;
