"""A local fine-tuning studio: one core, a Gradio UI and a CLI over it."""

import os

from studio import eager_bitsandbytes

eager_bitsandbytes.install()  # every process that imports PEFT starts 2-3 s sooner (see the module)
# Torch's OpenMP threads spin between parallel regions by default ("active" waiting). On a CPU shared
# with other work, a spinning thread that is descheduled stalls its partner at every barrier, and text
# generation is thousands of tiny ops: on the 2-core machine under a load average of 6, sampling 8 tokens
# took 40-51 s with 2 spinning threads, 9.8 s with passive waiting, 6.7 s with one thread (bench/RESULTS.md,
# "RLHF beyond its own file"). Set before torch is imported (studio's own processes import it later);
# a value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
