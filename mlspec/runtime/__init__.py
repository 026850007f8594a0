"""What runs the rendered artifacts outside Azure: the lake helper the notebooks inline, and more to come."""
