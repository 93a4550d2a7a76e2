"""Reference values for src/audio/mel.test.ts: Wav2Lip's mel spectrogram (audio.py with
hparams.py defaults) written with numpy/scipy only (librosa's formulas inlined:
librosa.stft center=True pad_mode="reflect", librosa.filters.mel htk=False norm="slaney").

Run: python3 packages/worker/scripts/mel-reference.py > packages/worker/src/audio/mel.fixture.json
"""
import json

import numpy as np
from scipy import signal

SR, N_FFT, HOP, WIN, N_MELS, FMIN, FMAX = 16000, 800, 200, 800, 80, 55.0, 7600.0
REF_DB, MIN_DB, MAX_ABS, PRE = 20.0, -100.0, 4.0, 0.97


def test_signal(n):
    """Deterministic test signal; mel.test.ts builds the same one (as float32)."""
    t = np.arange(n, dtype=np.float64) / SR
    x = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.25 * np.sin(2 * np.pi * 1250 * t + 0.3) * (np.arange(n) / n) + 0.05 * np.sin(2 * np.pi * 3700 * t)
    return x.astype(np.float32)


def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_basis():
    fftfreqs = np.linspace(0, SR / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((N_MELS, len(fftfreqs)))
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS])
    return weights * enorm[:, None]


def melspectrogram(wav):
    y = signal.lfilter([1, -PRE], [1], wav.astype(np.float64))
    y = np.pad(y, N_FFT // 2, mode="reflect")
    window = signal.get_window("hann", WIN, fftbins=True)
    n_frames = 1 + (len(y) - N_FFT) // HOP
    frames = np.stack([y[t * HOP : t * HOP + N_FFT] * window for t in range(n_frames)], axis=1)
    mag = np.abs(np.fft.rfft(frames, axis=0))
    mel = mel_basis() @ mag
    s = 20 * np.log10(np.maximum(10 ** (MIN_DB / 20), mel)) - REF_DB
    return np.clip((2 * MAX_ABS) * ((s - MIN_DB) / (-MIN_DB)) - MAX_ABS, -MAX_ABS, MAX_ABS)


if __name__ == "__main__":
    samples = 4000
    mel = melspectrogram(test_signal(samples))
    picked = [0, 1, 10, mel.shape[1] - 1]
    print(
        json.dumps(
            {
                "about": "scripts/mel-reference.py: numpy/scipy Wav2Lip mel of test_signal(4000)",
                "samples": samples,
                "frames": int(mel.shape[1]),
                "bands": int(mel.shape[0]),
                "picked": {str(t): [round(float(v), 6) for v in mel[:, t]] for t in picked},
            }
        )
    )
