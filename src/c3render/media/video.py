"""MP4 writing with PyAV: H.264 (libx264, yuv420p) video and AAC audio, interleaved."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import av
import numpy as np

AUDIO_RATE = 48000


class Mp4Writer:
    """Writes RGB frames and the matching audio to an MP4 that browsers play.

    Audio is muxed as it is reached by the video (one second of sound per second of
    frames), so the file is interleaved; ``+faststart`` puts the index first for streaming.
    """

    def __init__(
        self, path: Path, size: tuple[int, int], fps: int, audio: np.ndarray, crf: int = 23
    ) -> None:
        self.fps = fps
        self.audio = np.clip(audio.astype(np.float32), -1.0, 1.0)
        self.frames = 0
        self._audio_done = 0
        self._container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        video = self._container.add_stream("libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"crf": str(crf), "preset": "veryfast"}
        self._video = video
        sound = self._container.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        sound.bit_rate = 96_000
        self._audio = sound
        self._resampler = av.AudioResampler(
            format=sound.format.name, layout="mono", rate=AUDIO_RATE, frame_size=sound.frame_size
        )

    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB uint8 frame (height × width × 3)."""
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        video_frame.pts = self.frames
        self._container.mux(self._video.encode(video_frame))
        self.frames += 1
        if self.frames % self.fps == 0:
            self._write_audio(self.frames * AUDIO_RATE // self.fps)

    def close(self) -> None:
        """Flush both encoders and finish the file."""
        self._container.mux(self._video.encode(None))
        self._write_audio(self.audio.size)
        for frame in self._resampler.resample(None):
            self._container.mux(self._audio.encode(frame))
        self._container.mux(self._audio.encode(None))
        self._container.close()

    def _write_audio(self, until: int) -> None:
        until = min(until, self.audio.size)
        if until <= self._audio_done:
            return
        chunk = self.audio[self._audio_done : until].reshape(1, -1)
        audio_frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="flt", layout="mono")
        audio_frame.sample_rate = AUDIO_RATE
        audio_frame.pts = self._audio_done
        for frame in self._resampler.resample(audio_frame):
            self._container.mux(self._audio.encode(frame))
        self._audio_done = until

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        else:
            self._container.close()
