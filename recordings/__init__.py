"""Call recording and offline transcription.

- `service.Recordings`: the feature as the composition root owns it (start/stop).
- `control.RecordingControl`: MixMonitor on connect (per-queue/campaign rule), pause/resume/stop.
- `index.RecordingIndex`: file checks at CallEnded, hashing, the retry list, RecordingAlert.
- `workers.TranscriptionService` and `backlog.run_backlog`: worker processes on a durable queue.
- `engines`: Vosk (per-language models) and pocketsphinx (English default) behind one port.
- `search.search`: transcript full-text search; `keywords`: per-campaign keyword flags.
- `retention.purge`; `access.may_hear`, `access.parse_range`, `access.stream` for playback.
"""
