"""A local fine-tuning studio: one core, a Gradio UI and a CLI over it."""

from studio import eager_bitsandbytes

eager_bitsandbytes.install()  # every process that imports PEFT starts 2-3 s sooner (see the module)
