"""The audit area: hash chains, anchors, verification, history and replay."""
