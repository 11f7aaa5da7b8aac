# Runs after boot.py on every reset. The application lives in /lib/thermocc_device.
from thermocc_device import app

app.run()
