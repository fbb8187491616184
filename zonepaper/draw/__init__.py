"""The draw: public seed, canonical inputs, mechanisms, freeze, run, replay."""
