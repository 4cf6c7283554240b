"""Pure functions from a resolved environment to the files a gateway runtime consumes."""
