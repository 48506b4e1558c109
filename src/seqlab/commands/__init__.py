"""Sub-commands of the ``seqlab`` command, one module each (see :mod:`seqlab.cli`)."""
