// The console's entry: reads /config.json (issuer, client id, API base), then renders.
import { render } from 'preact';
import 'uplot/dist/uPlot.min.css';
import './console.css';
import { App } from './app';
import { loadConfig } from './auth';

const root = document.getElementById('app')!;
loadConfig()
  .then((config) => {
    root.textContent = '';
    render(<App config={config} />, root);
  })
  .catch((e) => {
    root.innerHTML = '';
    const p = document.createElement('p');
    p.setAttribute('role', 'alert');
    p.textContent = `The console could not start: ${String(e?.message ?? e)}`;
    root.append(p);
  });
