"""The mixer contract shared by every sequence mixer, enforced by template methods.

A mixer maps ``x: (batch, length, d_model)`` to ``y`` of the same shape. One with a recurrent
form also runs

- chunked with state: ``y, state = mixer.forward_with_state(x, state)``; feeding ``a`` then ``b``
  with the carried state equals feeding ``concat(a, b)``;
- step: ``y_t, state = mixer.step(x_t, state)`` with ``x_t: (batch, d_model)``;

and ``mixer.init_state(batch, device, dtype)`` makes the empty state. States are tensors, or
tuples/lists/dicts of them, whose first dimension is the batch, so :func:`reset_state` can clear
chosen sequences (as in-context RL needs at episode boundaries) and :meth:`Mixer.reorder_state`
can gather them (as beam search needs).

The public methods ``forward``, ``forward_with_state`` and ``step`` live here and do the checking;
a mixer writes only its math in the hooks ``_forward(x)``, ``_forward_with_state(x, state)`` and
``_step(x_t, state)`` (defaults: ``_forward`` runs ``_forward_with_state`` from the empty state,
``_step`` runs ``_forward_with_state`` on one token). The hooks always receive a state: a missing
one is made by ``init_state``, a given one is compared with the state *spec* -- the structure,
shapes (batch first) and dtypes of ``init_state(1)``, cached per dtype -- and anything else
(another mixer's state, a batch-1 state for batch 4, a float64 state for a float32 mixer) raises a
``ValueError`` naming the expected and the given state. Dimensions that grow with the sequence (an
attention KV cache) are left free by overriding ``_state_spec``.

The checks are O(1) Python work per call and read no tensor values (reading values forces a
device synchronisation per layer per token on a GPU); NaN/inf checks of inputs and states run only
when :func:`seqlab.debug.enabled` is on.

Mixers whose math needs complex numbers, FFTs or linear algebra that CPU kernels lack for
half/bfloat16 set ``upcast_low_precision = True``: a float16/bfloat16 instance then runs its hooks
on float32 copies of its parameters and inputs (:func:`torch.func.functional_call`, so gradients
reach the low-precision parameters) and casts the output and the new state back.

``state_growth`` says how the carried state grows with the length seen: ``"constant"`` (a fixed-size
recurrent state), ``"window"`` (bounded by a configured window or segment) or ``"linear"`` (it keeps,
or its output depends on, the whole history). Only ``"constant"`` mixers are fixed-size-state models.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn

from seqlab import debug

State = Any

ALL_MODES = ("parallel", "chunked", "step")
STATE_GROWTH = ("constant", "window", "linear")
LOW_PRECISION = (torch.float16, torch.bfloat16)
_NO_STATE = object()


class TensorSpec(NamedTuple):
    """One state tensor of the spec: its shape after the batch dim (``None``: any size) and dtype."""

    shape: tuple[int | None, ...]
    dtype: torch.dtype


def spec_of(state: State) -> Any:
    """The spec (nested ``TensorSpec``, same containers) of a state made by ``init_state``."""
    if isinstance(state, torch.Tensor):
        return TensorSpec(tuple(state.shape[1:]), state.dtype)
    if isinstance(state, dict):
        return {k: spec_of(v) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(spec_of(s) for s in state)
    raise TypeError(f"a mixer state holds tensors, tuples, lists and dicts, got {type(state).__name__}")


def describe_spec(spec: Any, batch: int | str = "batch") -> str:
    """Human-readable spec, e.g. ``dict(k: (4, 2, T, 8) float32, seen: (4,) int64)``."""
    if isinstance(spec, TensorSpec):
        return f"{_shape_str(spec, batch)} {str(spec.dtype).replace('torch.', '')}"
    if isinstance(spec, dict):
        return "dict(" + ", ".join(f"{k}: {describe_spec(v, batch)}" for k, v in spec.items()) + ")"
    inner = ", ".join(describe_spec(s, batch) for s in spec)
    return f"tuple({inner})" if isinstance(spec, tuple) else f"list({inner})"


def _shape_str(spec: TensorSpec, batch: int | str) -> str:
    dims = [str(batch)] + ["T" if d is None else str(d) for d in spec.shape]
    return f"({', '.join(dims)}{',' if len(dims) == 1 else ''})"


def describe_state(state: State) -> str:
    """Human-readable summary of a given state (shapes and dtypes; no values read)."""
    if isinstance(state, torch.Tensor):
        return f"{tuple(state.shape)} {str(state.dtype).replace('torch.', '')}"
    if isinstance(state, dict):
        return "dict(" + ", ".join(f"{k}: {describe_state(v)}" for k, v in state.items()) + ")"
    if isinstance(state, (tuple, list)):
        inner = ", ".join(describe_state(s) for s in state)
        return f"{type(state).__name__}({inner})"
    return type(state).__name__


class Mixer(nn.Module):
    """Base class: input and state checks around the subclass hooks (see the module docstring).

    Subclasses set ``modes`` (a subset of ``ALL_MODES``), ``causal``, ``state_size`` (a short formula
    such as ``"d_model * d_state"``, or ``"O(L * d_model)"`` for a growing cache) and
    ``state_growth`` (one of ``STATE_GROWTH``; an instance attribute where it depends on the config).
    """

    modes: tuple[str, ...] = ("parallel",)
    state_size: str = "-"
    state_growth: str | None = None
    upcast_low_precision: bool = False

    def __init__(self, d_model: int, causal: bool = True):
        super().__init__()
        if not isinstance(d_model, int) or d_model <= 0:
            raise ValueError(f"d_model must be a positive int, got {d_model!r}")
        self.d_model = d_model
        self.causal = causal
        self._spec_cache: dict = {}

    # -- input checks -------------------------------------------------------------------
    def param_dtype(self) -> torch.dtype | None:
        """The dtype of the first floating-point parameter (what inputs must have); cached, and the
        cache is cleared by ``.to()``/``.half()``/``.cuda()`` (all go through ``_apply``)."""
        cached = self.__dict__.get("_param_dtype", _NO_STATE)
        if cached is _NO_STATE:
            cached = next((p.dtype for p in self.parameters() if p.is_floating_point()), None)
            self.__dict__["_param_dtype"] = cached
        return cached

    def _apply(self, fn, *args, **kwargs):
        self.__dict__.pop("_param_dtype", None)
        self.__dict__["_spec_cache"] = {}
        return super()._apply(fn, *args, **kwargs)

    def check_input(self, x: torch.Tensor, *, step: bool = False) -> None:
        """Raise ``ValueError`` naming what was expected when ``x`` cannot be mixed.

        Cheap checks always (type, rank, ``d_model``, dtype); NaN/inf only under ``seqlab.debug``.
        """
        name = type(self).__name__
        want = "(batch, d_model)" if step else "(batch, length, d_model)"
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name} expects a torch.Tensor of shape {want}, got {type(x).__name__}")
        if x.dim() != (2 if step else 3):
            raise ValueError(f"{name} expects x of shape {want}, got shape {tuple(x.shape)}")
        if x.shape[-1] != self.d_model:
            raise ValueError(f"{name} expects last dim d_model={self.d_model}, got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{name} expects a floating-point tensor, got dtype {x.dtype}")
        if not step and x.shape[1] == 0:
            raise ValueError(f"{name} expects a non-empty sequence (length >= 1), got length 0")
        if x.shape[0] == 0:
            raise ValueError(f"{name} expects batch >= 1, got an empty batch")
        want_dtype = self.param_dtype()
        if want_dtype is not None and x.dtype != want_dtype and not torch.is_autocast_enabled(x.device.type):
            raise ValueError(
                f"{name} expects input dtype {want_dtype} (its parameters' dtype), got {x.dtype}; "
                f"convert the input, or the mixer with .to({x.dtype})"
            )
        if debug.enabled() and not torch.isfinite(x).all():
            raise ValueError(f"{name} expects finite inputs, got NaN or inf")

    # -- state spec and checks ----------------------------------------------------------
    def _state_spec(self, dtype: torch.dtype | None) -> Any:
        """Spec of this mixer's state for inputs of ``dtype``; override to free growing dims."""
        p = next(iter(self.parameters()), None)
        with torch.no_grad():
            return spec_of(self.init_state(1, None if p is None else p.device, dtype))

    def state_spec(self, dtype: torch.dtype | None = None) -> Any:
        """The (cached) spec: nested :class:`TensorSpec` after the batch dim, as ``init_state`` makes."""
        cache = self.__dict__.setdefault("_spec_cache", {})
        spec = cache.get(dtype)
        if spec is None:
            spec = cache[dtype] = self._state_spec(dtype)
        return spec

    def check_state(self, state: State, batch: int, dtype: torch.dtype, device: torch.device) -> None:
        """Raise ``ValueError`` unless ``state`` has the structure, shapes (``batch`` first), dtypes and
        device of ``init_state(batch, device, dtype)``. NaN/inf only under ``seqlab.debug``."""
        spec = self.state_spec(dtype)
        strict_dtype = not torch.is_autocast_enabled(device.type)
        if not _fits(spec, state, batch, device, strict_dtype):
            problem = _mismatch(spec, state, batch, device, strict_dtype, "state")
            raise ValueError(
                f"{type(self).__name__} expects a state {describe_spec(spec, batch)} (as init_state({batch}) "
                f"makes), got {describe_state(state)}: {problem}"
            )
        if debug.enabled() and not _finite(state):
            raise ValueError(f"{type(self).__name__} expects a finite state, got NaN or inf in it")

    def _prepare_state(self, state: State, x: torch.Tensor) -> State:
        if state is None:
            return self.init_state(x.shape[0], x.device, x.dtype)
        self.check_state(state, x.shape[0], x.dtype, x.device)
        return state

    def reorder_state(self, state: State, index: torch.Tensor) -> State:
        """The state of sequences ``index`` (1-D long): ``index_select`` along the batch dim of every
        tensor, so beam search can keep, drop and duplicate hypotheses."""
        integer = (torch.long, torch.int)
        if not isinstance(index, torch.Tensor) or index.dim() != 1 or index.dtype not in integer:
            raise ValueError(f"reorder_state expects a 1-D integer index tensor, got {index!r}")
        return _index_select(state, index)

    # -- public template methods ----------------------------------------------------------
    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        self.check_input(x)
        if self.upcast_low_precision and self.param_dtype() in LOW_PRECISION:
            return _upcast_call(self, "_forward", x, _NO_STATE, args, kwargs)
        return self._forward(x, *args, **kwargs)

    def forward_with_state(self, x: torch.Tensor, state: State = None, *args, **kwargs):
        if "chunked" not in self.modes:
            raise NotImplementedError(f"{type(self).__name__} has no chunked mode (modes: {self.modes})")
        self.check_input(x)
        state = self._prepare_state(state, x)
        if self.upcast_low_precision and self.param_dtype() in LOW_PRECISION:
            return _upcast_call(self, "_forward_with_state", x, state, args, kwargs)
        return self._forward_with_state(x, state, *args, **kwargs)

    def step(self, x_t: torch.Tensor, state: State = None, *args, **kwargs):
        if "step" not in self.modes:
            raise NotImplementedError(f"{type(self).__name__} has no step mode (modes: {self.modes})")
        self.check_input(x_t, step=True)
        state = self._prepare_state(state, x_t)
        if self.upcast_low_precision and self.param_dtype() in LOW_PRECISION:
            return _upcast_call(self, "_step", x_t, state, args, kwargs)
        return self._step(x_t, state, *args, **kwargs)

    def init_state(self, batch: int, device=None, dtype=None) -> State:
        raise NotImplementedError(f"{type(self).__name__} has no recurrent state (modes: {self.modes})")

    # -- hooks: the mixer's math ------------------------------------------------------------
    def _forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        """Parallel mode; by default the chunked mode from the empty state."""
        if "chunked" not in self.modes:
            raise NotImplementedError(f"{type(self).__name__} must implement _forward")
        return self._forward_with_state(x, self.init_state(x.shape[0], x.device, x.dtype), *args, **kwargs)[0]

    def _forward_with_state(self, x: torch.Tensor, state: State, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no chunked mode (modes: {self.modes})")

    def _step(self, x_t: torch.Tensor, state: State, *args, **kwargs):
        """Step mode; by default the chunked mode on a length-1 chunk."""
        y, state = self._forward_with_state(x_t[:, None], state, *args, **kwargs)
        return y[:, 0], state


class _Hook(nn.Module):
    """Calls one hook of ``mixer`` (so :func:`torch.func.functional_call` can swap its tensors)."""

    def __init__(self, mixer: Mixer, hook: str):
        super().__init__()
        self.mixer, self.hook = mixer, hook

    def forward(self, *args, **kwargs):
        return getattr(self.mixer, self.hook)(*args, **kwargs)


def _up(t: torch.Tensor) -> torch.Tensor:
    return t.float() if t.dtype in LOW_PRECISION else t


def _upcast_call(mixer: Mixer, hook: str, x: torch.Tensor, state: State, args, kwargs):
    """``mixer.<hook>`` on float32 copies of parameters, buffers, input and state; results cast back."""
    from torch.func import functional_call

    tensors = {f"mixer.{n}": _up(t) for n, t in mixer.named_parameters()}
    tensors.update({f"mixer.{n}": _up(t) for n, t in mixer.named_buffers()})
    wrapper = _Hook(mixer, hook)
    if state is _NO_STATE:
        return functional_call(wrapper, tensors, (_up(x), *args), kwargs).to(x.dtype)
    y, new = functional_call(wrapper, tensors, (_up(x), _map(state, _up), *args), kwargs)
    return y.to(x.dtype), _cast_like(new, mixer.state_spec(x.dtype))


def _map(state, fn):
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, dict):
        return {k: _map(v, fn) for k, v in state.items()}
    return type(state)(_map(s, fn) for s in state)


def _cast_like(state, spec):
    if isinstance(spec, TensorSpec):
        return state.to(spec.dtype)
    if isinstance(spec, dict):
        return {k: _cast_like(state[k], s) for k, s in spec.items()}
    return type(spec)(_cast_like(v, s) for v, s in zip(state, spec))


def _fits(spec, state, batch, device, strict_dtype) -> bool:
    """Fast yes/no of :func:`_mismatch` (the hot path: a handful of attribute reads per tensor)."""
    if type(spec) is TensorSpec:
        if not isinstance(state, torch.Tensor):
            return False
        shape, want = state.shape, spec.shape
        if len(shape) != len(want) + 1 or shape[0] != batch:
            return False
        i = 1
        for w in want:
            if w is not None and w != shape[i]:
                return False
            i += 1
        return (not strict_dtype or state.dtype == spec.dtype) and state.device == device
    if type(spec) is dict:
        if not isinstance(state, dict) or len(state) != len(spec):
            return False
        for k, sub in spec.items():
            if k not in state or not _fits(sub, state[k], batch, device, strict_dtype):
                return False
        return True
    if not isinstance(state, (tuple, list)) or len(state) != len(spec):
        return False
    for sub, value in zip(spec, state):
        if not _fits(sub, value, batch, device, strict_dtype):
            return False
    return True


def _mismatch(spec, state, batch, device, strict_dtype, path) -> str:
    """'' when ``state`` fits ``spec``; otherwise what differs first, at which path."""
    if isinstance(spec, TensorSpec):
        if not isinstance(state, torch.Tensor):
            return f"{path} should be a tensor, got {type(state).__name__}"
        if state.dim() != 1 + len(spec.shape) or state.shape[0] != batch or any(
            w is not None and w != g for w, g in zip(spec.shape, state.shape[1:])
        ):
            return f"{path} should have shape {_shape_str(spec, batch)}, got {tuple(state.shape)}"
        if strict_dtype and state.dtype != spec.dtype:
            return f"{path} should have dtype {spec.dtype}, got {state.dtype}"
        if state.device != device:
            return f"{path} should be on {device}, got {state.device}"
        return ""
    if isinstance(spec, dict):
        if not isinstance(state, dict) or set(state) != set(spec):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            return f"{path} should be a dict with keys {sorted(spec)}, got {got}"
        for k, s in spec.items():
            problem = _mismatch(s, state[k], batch, device, strict_dtype, f"{path}[{k!r}]")
            if problem:
                return problem
        return ""
    if not isinstance(state, (tuple, list)) or len(state) != len(spec):
        got = f"length {len(state)}" if isinstance(state, (tuple, list)) else type(state).__name__
        return f"{path} should be a tuple/list of {len(spec)} entries, got {got}"
    for i, (s, v) in enumerate(zip(spec, state)):
        problem = _mismatch(s, v, batch, device, strict_dtype, f"{path}[{i}]")
        if problem:
            return problem
    return ""


def _finite(state) -> bool:
    if isinstance(state, torch.Tensor):
        return not (state.is_floating_point() or state.is_complex()) or bool(torch.isfinite(state).all())
    if isinstance(state, dict):
        return all(_finite(v) for v in state.values())
    return all(_finite(v) for v in state)


def _index_select(state, index):
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index.to(state.device))
    if isinstance(state, dict):
        return {k: _index_select(v, index) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(_index_select(s, index) for s in state)
    raise ValueError(f"reorder_state expects tensors, tuples, lists and dicts, got {type(state).__name__}")


def state_growth_of(mixer: str | Mixer, **cfg) -> str:
    """``"constant"``, ``"window"`` or ``"linear"`` for a mixer instance, or a registered name (with
    ``cfg``: the instance that config builds, e.g. ``attention`` with ``window=`` is ``"window"``)."""
    if isinstance(mixer, str):
        from seqlab.registry import get

        obj = get("mixer", mixer).obj
        if not cfg:
            growth = getattr(obj, "state_growth", None)
        else:
            cfg.setdefault("d_model", 16)
            growth = getattr(obj(**cfg), "state_growth", None)
    else:
        growth = getattr(mixer, "state_growth", None)
    if growth not in STATE_GROWTH:
        raise ValueError(f"mixer {mixer!r} declares state_growth {growth!r}; expected one of {STATE_GROWTH}")
    return growth


def reset_state(state: State, done: torch.Tensor, fresh: State) -> State:
    """Replace the state of sequences where ``done`` (bool, shape ``(batch,)``) by ``fresh``."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        mask = done.view(-1, *([1] * (state.dim() - 1))).to(state.device)
        return torch.where(mask, fresh, state)
    if isinstance(state, dict):
        return {k: reset_state(v, done, fresh[k]) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(reset_state(s, done, f) for s, f in zip(state, fresh))
    return state
