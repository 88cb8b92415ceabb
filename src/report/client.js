// Runs inside the report page: draws every chart from the JSON embedded in the page with Chart.js
// (inlined before this script, so the page needs no network). Sets window.retortReport when done,
// so a headless browser can wait for it.
(() => {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const palette = [
    '#4e79a7',
    '#f28e2b',
    '#e15759',
    '#76b7b2',
    '#59a14f',
    '#edc948',
    '#b07aa1',
    '#ff9da7',
    '#9c755f',
    '#bab0ac',
  ];
  const color = (i) => palette[i % palette.length];
  const charts = [];

  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';

  function line(id, title, datasets, o) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    charts.push(
      new Chart(canvas, {
        type: 'line',
        data: {
          datasets: datasets.map((d, i) => ({
            borderColor: color(i),
            backgroundColor: color(i),
            pointRadius: d.data.length > 40 ? 0 : 2,
            borderWidth: 1.5,
            ...d,
          })),
        },
        options: {
          parsing: false,
          normalized: true,
          plugins: { title: { display: true, text: title }, legend: { position: 'bottom' } },
          scales: {
            x: { type: 'linear', title: { display: true, text: 'step' } },
            y: { type: o?.log ? 'logarithmic' : 'linear', title: { display: true, text: o?.y || '' } },
          },
        },
      }),
    );
  }

  // Training curves: the total and every logged term of each run.
  data.runs.forEach((run, r) => {
    const names = [];
    for (const s of run.steps) for (const k of Object.keys(s.terms)) if (!names.includes(k)) names.push(k);
    const sets = [{ label: 'loss (total)', data: run.steps.map((s) => ({ x: s.step, y: s.loss })) }];
    for (const k of names)
      sets.push({ label: k, data: run.steps.filter((s) => k in s.terms).map((s) => ({ x: s.step, y: s.terms[k] })) });
    line(`chart-loss-${r}`, `${run.name}: training loss terms`, sets, { y: 'loss' });
  });

  // Validation metrics over steps, one line per run.
  const withEvals = data.runs.filter((run) => run.evals.length > 0);
  const series = (field) =>
    withEvals
      .filter((run) => run.evals.some((e) => typeof e[field] === 'number'))
      .map((run) => ({
        label: run.name,
        data: run.evals.filter((e) => typeof e[field] === 'number').map((e) => ({ x: e.step, y: e[field] })),
      }));
  line('chart-val-accuracy', 'Validation accuracy (top-1)', series('accuracy'), { y: 'accuracy' });
  line(
    'chart-val-perplexity',
    data.task === 'lm' ? 'Validation perplexity' : 'Validation cross-entropy (exp)',
    series('perplexity'),
    { y: data.task === 'lm' ? 'perplexity' : 'exp(cross-entropy)', log: data.task === 'lm' },
  );

  // Size against quality, one point per evaluated model.
  const sizeCanvas = document.getElementById('chart-size-quality');
  if (sizeCanvas && data.eval) {
    const lm = data.eval.task === 'lm';
    const quality = (m) => (lm ? m.quality.perplexity : m.quality.accuracy);
    charts.push(
      new Chart(sizeCanvas, {
        type: 'scatter',
        data: {
          datasets: data.eval.models
            .filter((m) => typeof quality(m) === 'number')
            .map((m, i) => ({
              label: `${m.name} (${m.role})`,
              data: [{ x: m.params, y: quality(m) }],
              backgroundColor: color(i),
              borderColor: color(i),
              pointRadius: 7,
              pointStyle: m.role === 'teacher' ? 'rectRot' : 'circle',
            })),
        },
        options: {
          plugins: {
            title: {
              display: true,
              text: `Size against quality (${lm ? 'perplexity, lower is better' : 'accuracy, higher is better'})`,
            },
            legend: { position: 'bottom' },
          },
          scales: {
            x: { type: 'logarithmic', title: { display: true, text: 'parameters' } },
            y: { title: { display: true, text: lm ? 'perplexity' : 'accuracy' } },
          },
        },
      }),
    );
  }

  // Exact match of generated answers with the references, one bar per model that has task scores.
  const exactCanvas = document.getElementById('chart-exact-match');
  if (exactCanvas && data.eval) {
    const models = data.eval.models.filter((m) => m.task);
    const colors = models.map((m) => color(data.eval.models.indexOf(m)));
    charts.push(
      new Chart(exactCanvas, {
        type: 'bar',
        data: {
          labels: models.map((m) => m.name),
          datasets: [
            {
              label: 'exact match (%)',
              data: models.map((m) => (typeof m.task.exactMatch === 'number' ? 100 * m.task.exactMatch : null)),
              backgroundColor: colors,
              borderColor: colors,
            },
          ],
        },
        options: {
          plugins: {
            title: { display: true, text: 'Exact match with the reference answers (higher is better)' },
            legend: { display: false },
          },
          scales: { y: { min: 0, max: 100, title: { display: true, text: 'exact match (%)' } } },
        },
      }),
    );
  }

  window.retortReport = { ready: true, charts: charts.length, canvases: document.querySelectorAll('canvas').length };
})();
