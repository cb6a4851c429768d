"""What the stages stand on: the artifact store, the event stream, ffmpeg."""
