"""The end-to-end suite runs outside pytest-homeassistant-custom-component's sandbox."""
