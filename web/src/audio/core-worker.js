// Starting a module Worker that runs the C++ core (the MIDI and Draw panels'
// renderers). The Worker posts {type: 'ready'} once its WebAssembly core
// exists, or {type: 'error', message} when it cannot start.

const START_TIMEOUT_MS = 20000;

// engine names the Worker in messages for a visitor ("note engine"). Returns
// {worker (null when none could be made), ready}: ready resolves once the core
// runs, after which the Worker's messages go to onMessage and an uncaught
// error in it to onCrash; it rejects with a message for a visitor.
export function startCoreWorker(url, { name, engine, onMessage, onCrash }) {
  let worker = null;
  const ready = new Promise((resolve, reject) => {
    try {
      worker = new Worker(url, { type: 'module', name });
    } catch (error) {
      reject(new Error(`this browser cannot start the ${engine} (module Web Workers): ${error.message}`));
      return;
    }
    const timer = setTimeout(() => reject(new Error(`the ${engine} did not start in time; reload the page`)), START_TIMEOUT_MS);
    worker.onerror = (event) => {
      clearTimeout(timer);
      event.preventDefault?.();
      reject(new Error(`the ${engine} could not be loaded (if you run Timbrel yourself, build the WebAssembly core first)`));
    };
    worker.onmessage = (event) => {
      const data = event.data;
      if (data?.type === 'ready') {
        clearTimeout(timer);
        worker.onmessage = (e) => onMessage(e.data);
        worker.onerror = (e) => {
          e.preventDefault?.();
          onCrash();
        };
        resolve();
      } else if (data?.type === 'error') {
        clearTimeout(timer);
        reject(new Error(data.message));
      }
    };
  });
  ready.catch(() => {});
  return { worker, ready };
}
