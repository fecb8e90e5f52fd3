"""Media helpers shared by the engines: audio (PyAV), images (Pillow), video (H.264/AAC
MP4 through PyAV) and subtitles (SRT/VTT)."""
