// The errors of the audio engines, shared by the engines, the panels and the model preparer.

// Thrown when the C++ core refuses to run (e.g. an unsupported sample rate).
export class CoreError extends Error {
  constructor(message, sampleRate) {
    super(message);
    this.name = 'CoreError';
    this.sampleRate = sampleRate;
  }
}

// Thrown when the worklet module (or the WASM core it imports) cannot be loaded.
export class EngineLoadError extends Error {
  constructor(message, cause) {
    super(message);
    this.name = 'EngineLoadError';
    this.cause = cause;
  }
}

// Thrown when a kernel rejects a model; the previous model keeps playing.
export class ModelLoadError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

// Whether an error means the engine itself is gone (not one request failing).
export const isEngineFailure = (error) => error instanceof CoreError || error?.name === 'EngineLoadError';
