"""The compiler: turns a resolved spec into the resource graph and renders one artifact set per service."""
