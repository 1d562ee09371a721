// The widget's Web Worker: solves one challenge off the page's main thread and answers
// {nonce} (or {error}). Started from a Blob URL by the widget (build.mjs inlines this file).
import { solve } from './pow';

interface Job {
  salt: string;
  difficulty: number;
}

const scope = self as unknown as { onmessage: ((e: MessageEvent<Job>) => void) | null; postMessage(m: unknown): void };
scope.onmessage = async (e) => {
  try {
    const nonce = await solve(e.data.salt, e.data.difficulty);
    scope.postMessage({ nonce });
  } catch (err) {
    scope.postMessage({ error: String(err) });
  }
};
