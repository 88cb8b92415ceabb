// Hidden states of decoders as other exporters write them (fixtures/make_onnx_teacher.py, random
// weights): a GPT-2 at opset 14 with decomposed LayerNorm and no attention_mask, a Llama with
// decomposed RMSNorm (behind casts), RoPE and SwiGLU, and a Llama in the onnx-community / Optimum
// layout with past_key_values. hidden: 'auto' finds hidden states 0..L, and they and the logits
// equal PyTorch's. Edited copies check the walk through swapped Add inputs, Identity nodes and an
// exponent stored as a float64 initializer, and that where it fails the error names the values to
// pass and how.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  decodeModel,
  encodeModel,
  OnnxDataType,
  writeOnnxFile,
  type OnnxModel,
  type OnnxNode,
} from '../../onnx/index.ts';
import { hostTensor } from '../../runtime/index.ts';
import { checkRequest, type Teacher } from '../teacher.ts';
import { walkResidualStream } from './graph-edit.ts';
import { OnnxTeacher } from './teacher.ts';

const DIR = join(import.meta.dirname, '../../../fixtures/onnx');
const TMP = mkdtempSync(join(tmpdir(), 'retort-onnx-decoders-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

interface Reference {
  input_ids: number[][];
  attention_mask?: number[][];
  n_layer: number;
  n_embd: number;
  logits_shape: number[];
  logits: number[];
  hidden_shape: number[];
  hidden: number[][];
}

const reference = (name: string) => JSON.parse(readFileSync(join(DIR, `${name}.reference.json`), 'utf8')) as Reference;
const fileOf = (name: string) => join(DIR, `${name}.onnx`);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function inputsOf(ref: Reference) {
  const [b, t] = [ref.input_ids.length, ref.input_ids[0]!.length];
  return {
    ids: hostTensor('int64', [b, t], ref.input_ids.flat()),
    attentionMask: ref.attention_mask ? hostTensor('int64', [b, t], ref.attention_mask.flat()) : undefined,
  };
}

/** Scores every hidden state and the logits, and compares them with PyTorch's. */
async function expectMatchesReference(teacher: OnnxTeacher, ref: Reference, what: string): Promise<void> {
  const L = ref.n_layer;
  assert.equal(teacher.capabilities.hidden, true, `${what}: hidden states found`);
  assert.equal(
    teacher.hiddenNames.length,
    L + 1,
    `${what}: embedding output + ${L} blocks, got ${teacher.hiddenNames.join(', ')}`,
  );
  assert.equal(teacher.info.nLayers, L);
  const res = await teacher.score({
    ...inputsOf(ref),
    logits: true,
    topK: 3,
    hidden: Array.from({ length: L + 1 }, (_, i) => i),
  });
  assert.deepEqual(res.logits!.shape, ref.logits_shape);
  const dl = maxDiff(res.logits!.data as Float32Array, ref.logits);
  assert.ok(dl < 1e-4, `${what}: logits vs PyTorch ${dl}`);
  res.hidden!.forEach((h, i) => {
    assert.deepEqual(h.shape, ref.hidden_shape, `${what}: hidden ${i} shape`);
    const d = maxDiff(h.data as Float32Array, ref.hidden[i]!);
    assert.ok(d < 1e-4, `${what}: hidden state ${i} ('${teacher.hiddenNames[i]}') vs PyTorch ${d}`);
  });
}

function opCounts(model: OnnxModel): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of model.graph.nodes) m.set(n.opType, (m.get(n.opType) ?? 0) + 1);
  return m;
}

function writeModel(model: OnnxModel, name: string): string {
  const path = join(TMP, name);
  writeFileSync(path, encodeModel(model));
  return path;
}

/** The non-constant Add that reads `value` (the residual Add after it). */
function residualAddAfter(model: OnnxModel, value: string, nodes = model.graph.nodes): OnnxNode {
  const consts = new Set(model.graph.initializers.map((t) => t.name));
  const adds = nodes.filter(
    (n) => n.opType === 'Add' && n.inputs.includes(value) && !n.inputs.some((i) => consts.has(i)),
  );
  assert.equal(adds.length, 1, `one residual Add reads '${value}'`);
  return adds[0]!;
}

test('GPT-2 exported at opset 14 (decomposed LayerNorm, input_ids only): hidden states 0..L and logits equal PyTorch', async () => {
  const name = 'tiny-gpt2-opset14';
  const model = decodeModel(readFileSync(fileOf(name)));
  const ops = opCounts(model);
  assert.equal(ops.get('LayerNormalization'), undefined, 'LayerNorm is decomposed');
  assert.ok(
    (ops.get('ReduceMean') ?? 0) >= 6 && ops.has('Sqrt') && ops.has('Pow'),
    'ReduceMean/Sub/Pow/Sqrt/Div norms',
  );
  assert.deepEqual(
    model.graph.inputs.map((v) => v.name),
    ['input_ids'],
    'no attention_mask input',
  );
  const teacher = await OnnxTeacher.load(fileOf(name));
  await expectMatchesReference(teacher, reference(name), name);
});

test('Llama-style export (decomposed RMSNorm behind casts, RoPE, SwiGLU, untied head): hidden states and logits equal PyTorch', async () => {
  const name = 'tiny-llama';
  const model = decodeModel(readFileSync(fileOf(name)));
  const ops = opCounts(model);
  assert.equal(
    ops.get('SimplifiedLayerNormalization') ?? ops.get('RMSNormalization'),
    undefined,
    'RMSNorm is decomposed',
  );
  assert.ok(
    ops.has('Pow') && ops.has('Sqrt') && ops.has('Cast') && ops.has('Sigmoid'),
    'Pow/ReduceMean/Sqrt norms behind casts; SiLU as Sigmoid·x',
  );
  const teacher = await OnnxTeacher.load(fileOf(name));
  assert.equal(
    teacher.hiddenNames[0],
    '/embed_tokens/Gather_output_0',
    'hidden 0 is the embedding itself, not its cast',
  );
  await expectMatchesReference(teacher, reference(name), name);
});

test('onnx-community / Optimum layout with past_key_values: empty pasts and position_ids fed, hidden states and logits equal PyTorch', async () => {
  const name = 'tiny-llama-kv';
  const ref = reference(name);
  assert.ok(
    ref.attention_mask!.some((row) => row.includes(0)),
    'the reference input is left-padded',
  );
  const teacher = await OnnxTeacher.load(fileOf(name));
  const io = teacher.session.io;
  assert.deepEqual(
    io.past.map((p) => `${p.name}:${p.heads}x${p.headDim}`),
    [
      'past_key_values.0.key:2x8',
      'past_key_values.0.value:2x8',
      'past_key_values.1.key:2x8',
      'past_key_values.1.value:2x8',
    ],
  );
  assert.ok(io.mask && io.positions, 'attention_mask and position_ids are fed');
  assert.deepEqual(io.present, ['present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
  await expectMatchesReference(teacher, ref, name);
  // The present caches come back with the new keys: (B, kv heads, 0 + T, head size).
  const out = await teacher.session.run({ ids: inputsOf(ref).ids, mask: inputsOf(ref).attentionMask }, [
    'present.1.value',
  ]);
  assert.deepEqual([...out['present.1.value']!.dims], [2, 2, ref.input_ids[0]!.length, 8]);
});

test('a file with its weights in model.onnx_data: hidden states found and logits equal PyTorch; a broken data file is refused by name', async () => {
  const name = 'tiny-llama-kv';
  const dir = mkdtempSync(join(TMP, 'external-'));
  const path = join(dir, 'model.onnx');
  writeOnnxFile(path, decodeModel(readFileSync(fileOf(name))), { externalData: true });
  // Edited (hidden-state outputs, TopK) with its data handed to onnxruntime in memory.
  await expectMatchesReference(await OnnxTeacher.load(path), reference(name), `${name} with external data`);
  // Unedited, opened by path: onnxruntime reads the data file itself, top-k is done in JS.
  const plain = await OnnxTeacher.load(path, { hidden: [] });
  assert.equal(plain.session.graphTopK, false);
  const ref = reference(name);
  const res = await plain.score({ ...inputsOf(ref), logits: true, topK: 3 });
  assert.ok(maxDiff(res.logits!.data as Float32Array, ref.logits) < 1e-4);
  // The fingerprint (the key of cached teacher outputs) covers the weights in the data file.
  const data = readFileSync(`${path}_data`);
  data[data.length - 1] ^= 1;
  writeFileSync(`${path}_data`, data);
  assert.notEqual((await OnnxTeacher.load(path, { hidden: [] })).fingerprint, plain.fingerprint);
  truncateSync(`${path}_data`, 1000);
  await assert.rejects(
    OnnxTeacher.load(path, { hidden: [] }),
    (e: Error) => e.message.includes(`${path}_data`) && /truncated/.test(e.message),
  );
  rmSync(`${path}_data`);
  await assert.rejects(OnnxTeacher.load(path), /keeps its data in 'model\.onnx_data', which is missing/);
});

test('the walk looks through swapped Add inputs, Identity nodes in the chain and a float64 Pow exponent', async () => {
  const name = 'tiny-llama';
  const model = decodeModel(readFileSync(fileOf(name)));
  const names = walkResidualStream(model).names!;
  const g = model.graph;
  const nodes = g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] }));
  const inits = [...g.initializers];
  // Every residual Add reads its inputs the other way round, and hands its value on through an Identity.
  let value = names[0]!;
  for (let i = 0; i < 4; i++) {
    const add = residualAddAfter(model, value, nodes);
    add.inputs.reverse();
    const out = add.outputs[0]!;
    add.outputs[0] = `${out}.before_identity`;
    nodes.splice(nodes.indexOf(add) + 1, 0, {
      opType: 'Identity',
      name: `identity_${i}`,
      inputs: [add.outputs[0]],
      outputs: [out],
      attributes: [],
    });
    value = out;
  }
  // Each Pow's exponent becomes a float64 [1] initializer instead of a float32 scalar Constant.
  let pows = 0;
  for (const n of nodes.filter((x) => x.opType === 'Pow')) {
    const exp = `retort.test.exponent.${pows++}`;
    const raw = new Uint8Array(8);
    new DataView(raw.buffer).setFloat64(0, 2, true);
    inits.push({ name: exp, dataType: OnnxDataType.DOUBLE, dims: [1], rawData: raw });
    n.inputs[1] = exp;
  }
  assert.ok(pows >= 5, 'every RMSNorm has its Pow');
  const edited: OnnxModel = { ...model, graph: { ...g, nodes, initializers: inits } };
  const walked = walkResidualStream(edited);
  assert.ok(walked.names, `walk found hidden states: ${'reason' in walked ? walked.reason : ''}`);
  assert.equal(walked.names.length, 3);
  assert.deepEqual(
    walked.names.slice(1),
    names.slice(1).map((n) => `${n}.before_identity`),
    'the chain runs through the Identity nodes (each hidden state the Add output before its copy)',
  );
  const teacher = await OnnxTeacher.load(writeModel(edited, 'llama-edited.onnx'), { tokenizer: null });
  await expectMatchesReference(teacher, reference(name), 'edited llama');
});

test('where the walk fails, asking for hidden states names the candidate values and how to pass them; the suggested names work', async () => {
  const name = 'tiny-gpt2-opset14';
  const ref = reference(name);
  const model = decodeModel(readFileSync(fileOf(name)));
  const names = walkResidualStream(model).names!;
  // Block 0's attention residual written as a − (−b): the same values, but no Add to follow.
  const add = residualAddAfter(model, names[0]!);
  const other = add.inputs.find((i) => i !== names[0])!;
  const nodes = model.graph.nodes.flatMap((n): OnnxNode[] =>
    n === add
      ? [
          { opType: 'Neg', name: 'neg_branch', inputs: [other], outputs: ['retort.test.neg'], attributes: [] },
          {
            opType: 'Sub',
            name: 'sub_residual',
            inputs: [names[0]!, 'retort.test.neg'],
            outputs: [...add.outputs],
            attributes: [],
          },
        ]
      : [n],
  );
  const broken: OnnxModel = { ...model, graph: { ...model.graph, nodes } };
  const walk = walkResidualStream(broken);
  assert.equal(walk.names, undefined, 'the walk fails');
  assert.ok('reason' in walk && walk.reason.includes(names[0]!), 'the reason names where the chain stopped');
  const file = writeModel(broken, 'gpt2-sub-residual.onnx');
  const teacher = await OnnxTeacher.load(file, { tokenizer: null });
  assert.equal(teacher.capabilities.hidden, false);
  const { ids } = inputsOf(ref);
  const logits = await teacher.score({ ids, logits: true });
  assert.ok(maxDiff(logits.logits!.data as Float32Array, ref.logits) < 1e-4, 'the file still scores as before');
  const err = await teacher.score({ ids, hidden: [0] }).then(
    () => assert.fail('hidden states were returned'),
    (e: Error) => e,
  );
  assert.match(err.message, /cannot return hidden/);
  const field = /`source\.hidden: \[([^\]]*)\]`/.exec(err.message);
  assert.ok(field, 'says the run-config field');
  const suggested = [...field[1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  assert.deepEqual(suggested, names, "the suggestion is the stream the unedited file's walk finds");
  assert.match(err.message, /`hidden: \[\.\.\.\]` option of OnnxTeacher\.load/, 'says the load option');
  assert.doesNotMatch(err.message, /needs a Retort or ONNX teacher/, 'not the message for HTTP teachers');
  const listed = [...err.message.slice(err.message.indexOf('Candidates')).matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  // The values that feed the five norms (ln_1, ln_2 of each block, ln_f) come first: every second one is a hidden state.
  for (const n of [names[0]!, add.outputs[0]!, ...names.slice(1)])
    assert.ok(listed.includes(n), `'${n}' is among the candidates`);
  const named = await OnnxTeacher.load(file, { tokenizer: null, hidden: suggested });
  await expectMatchesReference(named, ref, 'named from the message');
});

test('capability messages: HTTP teachers are told hidden states need a Retort or ONNX teacher; ONNX ones what to pass', async () => {
  const ids = hostTensor('int64', [1, 2], [1, 2]);
  const stub = (kind: Teacher['kind'], unavailable?: Teacher['unavailable']): Teacher => ({
    kind,
    name: 't',
    fingerprint: 'f',
    info: { vocabSize: 4 },
    unavailable,
    capabilities: { logits: false, topK: true, hidden: false, attentions: false },
    score: async () => ({}),
  });
  assert.throws(
    () => checkRequest(stub('http'), { ids, hidden: [0] }),
    /\(http\) cannot return hidden; .*needs a Retort teacher \(source\.kind retort\) or an ONNX teacher \(source\.kind onnx\)/,
  );
  assert.throws(
    () => checkRequest(stub('onnx'), { ids, hidden: [0] }),
    /\(onnx\) cannot return hidden; name the hidden-state values: `source\.hidden: \[\.\.\.\]`/,
  );
  assert.throws(
    () => checkRequest(stub('onnx', { hidden: 'because' }), { ids, hidden: [0] }),
    /cannot return hidden; because$/,
  );
  const none = await OnnxTeacher.load(fileOf('tiny-llama'), { tokenizer: null, hidden: [] });
  await assert.rejects(none.score({ ids, hidden: [0] }), /loaded with hidden: \[\]; name the hidden-state values/);
});
