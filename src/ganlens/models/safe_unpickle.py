"""A restricted unpickler for NVIDIA network pickles: data in, never code.

A stylegan2-ada-pytorch ``.pkl`` is an ordinary Python pickle. Each network in it is written through
``torch_utils.persistence``: its ``__reduce__`` returns ``_reconstruct_persistent_obj(meta)`` where ``meta`` is
``{type: 'class', version: 6, module_src: <source of training/networks.py>, class_name: 'Generator',
state: <the module's __dict__>}``. Unpickling it with NVIDIA's code ``exec``s ``module_src``. Sub-modules
(``mapping``, ``synthesis.b8.conv0``, ...) are persistent objects of the same kind, nested in
``state['_modules']``. Tensors are pickled by torch's ``__reduce_ex__`` as ``torch._utils._rebuild_parameter`` /
``_rebuild_tensor_v2`` around storages, and a storage pickled by plain ``pickle`` becomes
``torch.storage._load_from_bytes(<a legacy torch.save stream>)``. Module attributes such as ``weight_gain`` are
NumPy scalars, keyword arguments are ``dnnlib.util.EasyDict`` objects.

`RestrictedUnpickler` resolves only an explicit allow-list of globals, each mapped to a data-only stand-in:

* the persistence entry point → `PersistentObject` (a record of class name, version, source text and state;
  the source is kept as a string and never executed),
* the tensor / parameter rebuild functions → checked re-implementations that only accept storages and ints,
* ``torch.storage._load_from_bytes`` → ``torch.load(..., weights_only=True)`` of the bytes (the original calls
  an unrestricted ``torch.load``),
* ``collections.OrderedDict``, ``dnnlib.util.EasyDict`` (→ a dict), ``set``/``frozenset``/``slice``/``complex``,
* NumPy arrays, dtypes and scalars without object fields, ``_codecs.encode`` of latin-1 text,
* TensorFlow-era ``dnnlib.tflib.network.Network`` → `TFNetworkStub` (a dict of its state), so the loader can
  explain that such a file needs converting.

Any other global raises `UnsafeCheckpointError` naming it, before anything is called. The opcodes that can
call or mutate objects (REDUCE, NEWOBJ, INST/OBJ, BUILD) are re-checked against the allow-list too, and
persistent ids (which plain network pickles never use) are refused.
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, UnsafeCheckpointError


@dataclass
class PersistentObject:
    """What NVIDIA's ``_reconstruct_persistent_obj(meta)`` would have turned into a live module, kept as data."""

    class_name: str
    version: int
    module_src: str
    state: dict = field(repr=False)

    def child(self, name: str) -> "PersistentObject | None":
        """The sub-module `name` from ``state['_modules']`` (None when absent)."""
        mods = self.state.get("_modules") or {}
        child = mods.get(name)
        return child if isinstance(child, PersistentObject) else None

    def attr(self, name: str, default: Any = None) -> Any:
        """A plain attribute the module had (``self.<name>``) at pickling time."""
        return self.state.get(name, default)


class EasyDictStandIn(dict):
    """``dnnlib.util.EasyDict`` without attribute magic; a dict that also accepts pickle's BUILD."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


class TFNetworkStub(dict):
    """The state of a TensorFlow-era ``dnnlib.tflib.network.Network`` (variables as NumPy arrays)."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise UnsafeCheckpointError("a TensorFlow network record has a non-dict state")
        self.update(state)


class _CheckedArray(np.ndarray):
    """Target of NumPy's ``_reconstruct``: refuses object dtypes before NumPy fills the array."""

    def __setstate__(self, state: Any) -> None:
        dtype = state[2] if isinstance(state, tuple) and len(state) >= 3 else None
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise UnsafeCheckpointError("a NumPy array with an object dtype (it would hold arbitrary objects)")
        super().__setstate__(state)


# --- stand-ins for the allowed globals ---------------------------------------------------------------------


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    """Data-only replacement of ``torch_utils.persistence._reconstruct_persistent_obj``: no ``exec``."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"persistent-object record is a {type(meta).__name__}, expected a dict")
    if meta.get("type") != "class":
        raise CheckpointError(f"persistent-object record of unknown type {meta.get('type')!r}")
    version, class_name, src, state = meta.get("version"), meta.get("class_name"), meta.get("module_src"), meta.get("state")
    if not isinstance(version, int) or not 1 <= version <= 6:
        raise CheckpointError(f"persistent-object record of unsupported version {version!r} (ganlens reads 1..6)")
    if not isinstance(class_name, str) or not isinstance(src, str):
        raise CheckpointError("persistent-object record without class_name/module_src strings")
    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise CheckpointError(f"persistent object {class_name!r} has a {type(state).__name__} state, expected a dict")
    return PersistentObject(class_name=class_name, version=version, module_src=src, state=dict(state))


def _check_int_seq(x: Any, what: str) -> tuple[int, ...]:
    if isinstance(x, torch.Size):
        x = tuple(x)
    if not isinstance(x, (tuple, list)) or not all(isinstance(v, int) and not isinstance(v, bool) for v in x):
        raise CheckpointError(f"tensor record has a malformed {what}: {x!r}")
    return tuple(x)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> torch.Tensor:
    """``torch._utils._rebuild_tensor`` with the bounds checked before ``set_``."""
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise CheckpointError(f"tensor record refers to a {type(storage).__name__}, not a storage")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise CheckpointError(f"tensor record has a bad storage offset {storage_offset!r}")
    size, stride = _check_int_seq(size, "size"), _check_int_seq(stride, "stride")
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise CheckpointError(f"tensor record has inconsistent size {size} / stride {stride}")
    if isinstance(storage, torch.TypedStorage):
        dtype, untyped = storage.dtype, storage._untyped_storage
    else:
        dtype, untyped = torch.uint8, storage
    numel_avail = untyped.nbytes() // torch.empty((), dtype=dtype).element_size()
    if all(size):
        needed = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
        if needed > numel_avail:
            raise CheckpointError(f"tensor record of size {size} reaches past its storage ({numel_avail} elements)")
    t = torch.empty((0,), dtype=dtype, device=untyped.device)
    return t.set_(untyped, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """``torch._utils._rebuild_tensor_v2`` minus hooks and metadata (a network pickle carries neither)."""
    if backward_hooks:
        raise UnsafeCheckpointError("a tensor record carries backward hooks (callables); refusing")
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    """``torch._utils._rebuild_parameter`` / ``_rebuild_parameter_with_state``: a plain (frozen) tensor."""
    if not isinstance(data, torch.Tensor):
        raise CheckpointError(f"parameter record wraps a {type(data).__name__}, not a tensor")
    if backward_hooks:
        raise UnsafeCheckpointError("a parameter record carries backward hooks (callables); refusing")
    return torch.nn.Parameter(data, requires_grad=False)


def _rebuild_from_type_v2(func, new_type, args, state):
    """``torch._tensor._rebuild_from_type_v2`` for the two types a network holds (Python state is dropped)."""
    if func not in (_rebuild_tensor_v2, _rebuild_parameter, _rebuild_tensor) or new_type not in (torch.Tensor, torch.nn.Parameter):
        raise UnsafeCheckpointError(f"tensor record rebuilds through {func!r} as {new_type!r}; refusing")
    if not isinstance(args, tuple):
        raise CheckpointError("malformed tensor record")
    return func(*args)


def _load_storage_from_bytes(b: Any) -> Any:
    """``torch.storage._load_from_bytes``: the bytes are a torch.save stream; read them with weights_only."""
    if not isinstance(b, (bytes, bytearray)):
        raise CheckpointError("storage record is not a byte string")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TypedStorage deprecation chatter
            obj = torch.load(io.BytesIO(bytes(b)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(f"a tensor storage record holds a pickle that is not plain tensor data ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - any failure means the storage bytes are unusable
        raise CheckpointError(f"a tensor storage record is corrupt ({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(obj, (torch.TypedStorage, torch.UntypedStorage)):
        raise UnsafeCheckpointError(f"a tensor storage record decodes to a {type(obj).__name__}, not a storage")
    return obj


def _np_dtype(spec: Any, align: Any = False, copy: Any = True) -> np.dtype:
    if not isinstance(spec, str):
        raise CheckpointError(f"NumPy dtype record with a {type(spec).__name__} spec")
    # Always a fresh dtype object: BUILD then sets its state, and must never touch NumPy's shared singletons.
    dt = np.dtype(spec, align=bool(align), copy=True)
    if dt.hasobject:
        raise UnsafeCheckpointError(f"NumPy object dtype {spec!r} (it would hold arbitrary objects)")
    return dt


def _check_dtype_state(dt: np.dtype, state: Any) -> None:
    """Only the byte order and size of a plain dtype may be set: no fields, sub-arrays, metadata or flags
    (flags such as 'holds objects' would make NumPy read raw bytes as object pointers)."""
    ok = (
        isinstance(state, tuple) and len(state) in (8, 9) and state[0] in (3, 4) and state[1] in ("<", ">", "|", "=")
        and state[2] is None and state[3] is None and state[4] is None
        and all(isinstance(v, int) for v in state[5:8]) and state[7] == dt.flags
        and (len(state) == 8 or state[8] is None)
    )
    if not ok:
        raise UnsafeCheckpointError(f"a NumPy dtype record with a non-plain state {state!r:.120}")


def _np_scalar(dtype: Any, data: Any = None) -> np.generic:
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes) or len(data) != dtype.itemsize:
        raise UnsafeCheckpointError("NumPy scalar record that is not plain numeric bytes")
    return np.frombuffer(data, dtype=dtype)[0]


def _np_reconstruct(subtype: Any, shape: Any, typecode: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise UnsafeCheckpointError(f"NumPy array record of subtype {subtype!r}")
    return np.ndarray.__new__(_CheckedArray, (0,), np.uint8)


def _codecs_encode(text: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    # Protocol-2 pickles spell bytes as _codecs.encode(<latin-1 str>, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError("_codecs.encode used for something other than latin-1 bytes")
    return codecs.encode(text, "latin1")


# (module, name) → the object the pickle gets instead. Nothing else resolves.
_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): torch.Tensor,
    ("torch.nn.parameter", "Parameter"): torch.nn.Parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_from_bytes,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("dnnlib.util", "EasyDict"): EasyDictStandIn,
    ("dnnlib", "EasyDict"): EasyDictStandIn,
    ("dnnlib.tflib.network", "Network"): TFNetworkStub,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("__builtin__", "slice"): slice,
    ("__builtin__", "complex"): complex,
    ("_codecs", "encode"): _codecs_encode,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _np_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy.core.multiarray", "scalar"): _np_scalar,
    ("numpy._core.multiarray", "scalar"): _np_scalar,
}
# Types that only ever appear as arguments (to the rebuild functions); calling them is not allowed.
_NOT_CALLABLE = (torch.Tensor, torch.nn.Parameter, np.ndarray)
_CALLABLE_IDS = {id(v) for v in _ALLOWED.values() if not any(v is t for t in _NOT_CALLABLE)}
# Classes that NEWOBJ may instantiate (``cls.__new__(cls)``) and types whose objects BUILD may fill.
_NEWOBJ_CLASSES = (collections.OrderedDict, EasyDictStandIn, TFNetworkStub, set, frozenset)
_BUILD_TYPES = (EasyDictStandIn, TFNetworkStub, _CheckedArray, np.dtype)


def allowed_globals() -> list[str]:
    """The globals a network pickle may name, as 'module.name' (for docs and error messages)."""
    return sorted(f"{m}.{n}" for m, n in _ALLOWED)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python unpickler, so every opcode can be checked
    """Unpickle network pickles with an allow-list of globals; see the module docstring."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except (KeyError, TypeError):
            raise UnsafeCheckpointError(
                f"the pickle asks for the global {module}.{name}, which is not on ganlens' allow-list of "
                "tensor/container types (unpickling it could run arbitrary code)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeCheckpointError("the pickle uses persistent ids, which a network pickle never does")

    def _check_callable(self, func: Any, opcode: str) -> None:
        if id(func) not in _CALLABLE_IDS:
            raise UnsafeCheckpointError(f"{opcode} on {type(func).__name__} {func!r:.80}, which is not an allowed callable")

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        self._check_callable(func, "REDUCE")
        if not isinstance(args, tuple):
            raise CheckpointError("malformed pickle: REDUCE arguments are not a tuple")
        self.stack[-1] = func(*args)

    dispatch[pickle.REDUCE[0]] = load_reduce

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls not in _NEWOBJ_CLASSES or not isinstance(args, tuple):
            raise UnsafeCheckpointError(f"NEWOBJ of {cls!r:.80}, which is not an allowed container class")
        self.append(cls.__new__(cls, *args))

    dispatch[pickle.NEWOBJ[0]] = load_newobj

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls not in _NEWOBJ_CLASSES or not isinstance(args, tuple) or kwargs:
            raise UnsafeCheckpointError(f"NEWOBJ_EX of {cls!r:.80}, which is not an allowed container class")
        self.append(cls.__new__(cls, *args))

    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex

    def _instantiate(self, klass: Any, args: tuple) -> None:  # INST / OBJ (protocol 0/1 class instances)
        self._check_callable(klass, "INST/OBJ")
        self.append(klass(*args))

    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if not isinstance(inst, _BUILD_TYPES):
            raise UnsafeCheckpointError(f"BUILD (set state) on a {type(inst).__name__}, which ganlens does not allow")
        if isinstance(inst, np.dtype):
            _check_dtype_state(inst, state)
        inst.__setstate__(state)

    dispatch[pickle.BUILD[0]] = load_build

    def load_ext1(self) -> None:  # the copyreg extension registry would map codes to arbitrary globals
        raise UnsafeCheckpointError("the pickle uses copyreg extension codes (EXT opcodes); refusing")

    dispatch[pickle.EXT1[0]] = load_ext1
    dispatch[pickle.EXT2[0]] = load_ext1
    dispatch[pickle.EXT4[0]] = load_ext1


def restricted_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle `data` with `RestrictedUnpickler`; every failure becomes a CheckpointError naming `source`."""
    if not data:
        raise CheckpointError(f"{source} is empty (0 bytes)")
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except UnsafeCheckpointError as exc:
        raise UnsafeCheckpointError(f"{source}: refusing to load: {exc}") from None
    except CheckpointError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    except (EOFError, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"{source} is not a readable pickle (truncated or corrupt: {_first_line(exc)})") from None
    except (MemoryError, RecursionError, OverflowError) as exc:
        raise CheckpointError(f"{source} is not a usable pickle ({type(exc).__name__}); is it corrupt?") from None
    except Exception as exc:  # noqa: BLE001 - malformed opcode streams raise almost anything
        raise CheckpointError(f"{source} is corrupt ({type(exc).__name__}: {_first_line(exc)})") from None
