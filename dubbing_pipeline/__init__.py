"""Video dubbing on Dagster: transcript, translation, speech, muxed_video, lipsynced_video."""
