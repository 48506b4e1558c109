import os

import torch

torch.set_num_threads(1)

# Without a GPU, Triton kernels are tested by Triton's CPU interpreter. It must be switched on before
# anything imports triton (its language functions are bound to the interpreter at import).
if "TRITON_INTERPRET" not in os.environ and not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"
