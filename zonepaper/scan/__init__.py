"""Reading scanned forms: raster, register, identify, read marks and handwriting."""
