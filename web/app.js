// The browser demo: loads the exported model (/model/...) with onnxruntime-web's WebAssembly backend
// and its tokenizer.json with Tokenizers.js, then generates greedily (decoders) or classifies.
// The page's results are also left on window.retortWeb, so a headless browser can read them.
// URL parameters: ?model=fp32|int8|fp16|q4|q4f16 (model.onnx, model_quantized.onnx, model_fp16.onnx,
// model_q4.onnx, model_q4f16.onnx; default q4 when the export has it: the smallest file that keeps
// quality on the wasm backend), ?prompt=...&tokens=N&auto=1 (run at once).
import * as ort from '/vendor/ort/ort.wasm.min.mjs';
import { Tokenizer } from '/vendor/tokenizers/tokenizers.min.mjs';
import { classify, greedyGenerate, isClassifier } from './lm.js';

ort.env.wasm.wasmPaths = '/vendor/ort/';
ort.env.wasm.numThreads = 1; // no SharedArrayBuffer needed, and runs are deterministic
ort.env.wasm.proxy = false;

const state = (window.retortWeb = { ready: false, done: false, error: null });
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

async function json(path, optional = false) {
  const r = await fetch(path);
  if (!r.ok) {
    if (optional) return {};
    throw new Error(`${path}: HTTP ${r.status}`);
  }
  return r.json();
}

function fail(err) {
  state.error = String(err?.message ? err.message : err);
  $('status').textContent = `Error: ${state.error}`;
  console.error(err);
}

async function main() {
  const info = await json('/api/info');
  const config = await json('/model/config.json');
  const tokJson = await json('/model/tokenizer.json');
  const tokConfig = await json('/model/tokenizer_config.json', true);
  // Tokenizers.js insists on these keys; minimal files may leave them out.
  const tokenizer = new Tokenizer(
    { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [], ...tokJson },
    tokConfig,
  );
  const FILES = {
    fp32: 'model.onnx',
    int8: 'model_quantized.onnx',
    fp16: 'model_fp16.onnx',
    q4: 'model_q4.onnx',
    q4f16: 'model_q4f16.onnx',
  };
  const asked = params.get('model');
  const variant = asked && info.files[asked] ? asked : info.files.q4 ? 'q4' : 'fp32';
  const file = FILES[variant];
  const t0 = performance.now();
  // A file with its weights in <file>_data is listed in config.json (as transformers.js reads it);
  // onnxruntime-web does not look for the data file by itself.
  const external = config['transformers.js_config']?.use_external_data_format?.[file];
  const session = await ort.InferenceSession.create(`/model/onnx/${file}`, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
    ...(external ? { externalData: [{ path: `${file}_data`, data: `/model/onnx/${file}_data` }] } : {}),
  });
  const mb = (info.files[variant] / 1e6).toFixed(2);
  $('status').textContent =
    `${info.name}: ${config.architectures?.[0] ?? config.model_type}, ${file} (${mb} MB, ${variant}) loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s.`;
  const encode = (text) => tokenizer.encode(text, { add_special_tokens: false }).ids;
  Object.assign(state, { ready: true, variant, task: isClassifier(config) ? 'classifier' : 'lm' });

  if (isClassifier(config)) {
    $('classifier').hidden = false;
    const padId = tokConfig.pad_token ? (tokenizer.token_to_id(tokConfig.pad_token) ?? 0) : 0;
    const run = async () => {
      const ids = encode($('text').value);
      const r = await classify(ort, session, config, ids, padId);
      $('scores').innerHTML = '';
      r.probs.forEach((p, i) => {
        const row = document.createElement('div');
        const name = config.id2label?.[i] ?? `LABEL_${i}`;
        row.innerHTML = `<span class="bar" style="width:${Math.round(p * 300)}px"></span> `;
        row.append(`${name} ${(100 * p).toFixed(1)}%${i === r.label ? '  ←' : ''}`);
        $('scores').append(row);
      });
      Object.assign(state, { ids, logits: r.logits, probs: r.probs, label: r.label, name: r.name, done: true });
    };
    $('classify').onclick = () => run().catch(fail);
    if (params.has('text')) $('text').value = params.get('text');
    if (params.has('auto')) await run();
    return;
  }

  $('lm').hidden = false;
  const run = async () => {
    state.done = false;
    const prompt = $('prompt').value;
    const promptIds = encode(prompt);
    const out = $('output');
    out.textContent = prompt;
    const gen = document.createElement('span');
    gen.className = 'gen';
    out.append(gen);
    const ids = [];
    const t1 = performance.now();
    await greedyGenerate(ort, session, config, promptIds, {
      maxNewTokens: Number($('tokens').value),
      onToken: (id) => {
        ids.push(id);
        gen.textContent = tokenizer.decode(ids, { skip_special_tokens: false });
      },
    });
    const secs = (performance.now() - t1) / 1000;
    const asked = Number($('tokens').value);
    const capped =
      ids.length < asked
        ? ` (stopped at the model's ${config.n_positions ?? config.max_position_embeddings} positions)`
        : '';
    $('footer').textContent =
      `${ids.length} tokens${capped} in ${secs.toFixed(2)} s (${(ids.length / secs).toFixed(1)} tokens/s), greedy, onnxruntime-web ${ort.env.versions?.web ?? ''} (WebAssembly).`;
    Object.assign(state, { promptIds, ids, text: gen.textContent, done: true });
  };
  $('generate').onclick = () => run().catch(fail);
  if (params.has('prompt')) $('prompt').value = params.get('prompt');
  if (params.has('tokens')) $('tokens').value = params.get('tokens');
  if (params.has('auto')) await run();
}

main().catch(fail);
