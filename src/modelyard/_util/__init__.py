"""Small helpers with no Modelyard imports above ``errors``."""
