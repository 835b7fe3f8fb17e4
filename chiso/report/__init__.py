"""The monthly report for provincial leaders, rendered from the published mart."""
