"""What the scoring image is built from, shared by the AKS renderer and ``mlspec lock``: the base images
by digest, the requirement set, and the lock file that pins it (not a service: it renders nothing)."""
