// Microphone input: getUserMedia with the browser's voice processing switched off
// (echo cancellation, noise suppression and automatic gain would distort what we measure).

export const MIC_CONSTRAINTS = Object.freeze({
  audio: {
    echoCancellation: false,
    noiseSuppression: false,
    autoGainControl: false,
  },
  video: false,
});

export class MicInput {
  constructor(context, stream) {
    this.stream = stream;
    this.node = context.createMediaStreamSource(stream);
    const track = stream.getAudioTracks()[0];
    this.label = track?.label || 'microphone';
    this.onEnded = null; // called if the device goes away (unplugged, revoked)
    this.handleEnded = () => this.onEnded?.();
    track?.addEventListener('ended', this.handleEnded);
  }

  static async open(context, mediaDevices = navigator.mediaDevices) {
    if (!mediaDevices?.getUserMedia) {
      const error = new Error('getUserMedia is not available');
      error.name = 'NotSupportedError';
      throw error;
    }
    const stream = await mediaDevices.getUserMedia(MIC_CONSTRAINTS);
    return new MicInput(context, stream);
  }

  dispose() {
    this.node.disconnect();
    for (const track of this.stream.getTracks()) {
      track.removeEventListener('ended', this.handleEnded);
      track.stop();
    }
  }
}

// A visitor-friendly explanation of a getUserMedia failure.
export function describeMicError(error) {
  switch (error?.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return {
        key: 'mic-denied',
        title: 'Microphone access is blocked.',
        text: 'To analyse your own voice, allow the microphone for this page (use the microphone or lock icon in the address bar), then press Start microphone again. Meanwhile you can play the example clip.',
      };
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return {
        key: 'mic-missing',
        title: 'No microphone was found.',
        text: 'Plug in a microphone or headset and press Start microphone again. Meanwhile you can play the example clip.',
      };
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return {
        key: 'mic-busy',
        title: 'The microphone could not be started.',
        text: 'Another application may be using it, or the system blocked it. Close other apps that record sound and try again, or play the example clip.',
      };
    case 'NotSupportedError':
      return {
        key: 'mic-unsupported',
        title: 'No microphone access in this browser.',
        text: 'This browser does not let web pages record sound here. You can still play the example clip.',
      };
    default:
      return {
        key: 'mic-error',
        title: 'The microphone could not be opened.',
        text: `${error?.message || error}. You can still play the example clip.`,
      };
  }
}
