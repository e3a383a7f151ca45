"""The grader's guard, run *inside* the kernel that executes a submission.

nbgrader runs a student's cells and the instructor's test cells in one Python
process, so a solution cell can change what the tests see: rebind ``math`` or
``np``, replace ``np.testing.assert_allclose`` or ``math.isclose``, shadow
``isinstance``/``len``, rebind ``__builtins__``, add an IPython AST or input
transformer that strips ``assert`` statements, swallow exceptions with
``set_custom_exc``, register a ``pre_run_cell`` callback that patches again,
set a trace function that steps over failing lines… This file is sent to the
kernel as source text (standard library only) and called by the grader in
``user_expressions`` of silent requests (evaluated with ``eval``: no input or
AST transformer sees them, no history records them):

``install(hook, roots, names)``
    once the notebook's leading locked cells (its setup) ran, before any
    student code: snapshots ``builtins``; every loaded module under the
    top-level packages that locked and test cells import (``roots``: numpy,
    math, labcode…) and the Python classes defined there; the user-namespace
    names the setup bound; the IPython shell's transformers, exception
    handlers, event callbacks and methods; ``sys``'s hooks, ``sys.modules``,
    the trace and profile functions, ``gc.callbacks``, the SIGINT handler.
``sys.modules[hook].before(refs)``
    before every later locked or test cell: puts back everything that changed
    since (functions, classes, modules and public constants; names a locked or
    test cell bound to a module, class or function; hooks and lists), hides,
    for the cell's duration, user-namespace names that shadow a builtin the
    cell uses, and returns what it had to put back (evidence for review.csv).
``sys.modules[hook].after(names)``
    after it: gives hidden names back, records the names the cell bound,
    snapshots modules first imported since.

State changed by a submission is put back only before trusted cells; the
student's own cells keep seeing their changes. Data is not reset (random
state, caches, counters), so an honest notebook runs exactly as without the
guard. What this does *not* stop, by design of an in-process check: code
written against this guard (finding its snapshot through ``gc``, patching
through ``ctypes``, tracing the guard itself), background threads or
finalizers that patch again while a test runs (the threads are reported),
objects whose own methods lie (``__eq__`` always true, a NumPy subclass's
``__array_ufunc__``), methods a submission *adds* to a class (only changed or
deleted ones are put back), and modules a submission imports and patches
before any trusted cell imported them. README.md ("Exercises and grading")
lists these limits.
"""

# Everything is inside install(): the kernel's user namespace gets no names from this file.


def install(hook, roots, names):  # one closure on purpose: no module-level state to tamper with
    import builtins
    import gc
    import signal
    import sys
    import threading
    import types

    _dict, _list, _set, _tuple, _str = dict, list, set, tuple, str
    _getattr, _setattr, _isinstance, _callable, _id = getattr, setattr, isinstance, callable, id
    _sorted, _repr, _hasattr = sorted, repr, hasattr
    missing = object()
    module_type = types.ModuleType
    heap_type = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes defined in Python (built-in types cannot be patched)
    constants = (int, float, complex, str, bytes, bool, type(None), tuple, frozenset)
    descriptors = (classmethod, staticmethod, property)
    # names a trusted cell bound that are put back: code, not objects (a model a student trains stays theirs)
    code_types = (module_type, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)
    roots = _tuple(roots)
    builtin_names = frozenset(_dict(vars(builtins)))

    shell = sys.modules["IPython"].get_ipython()
    user_ns = shell.user_ns

    def guarded(name, value):
        """Whether a module attribute is put back when it changes: code and public constants, not state."""
        if _isinstance(value, module_type):
            return not name.startswith("_")
        if _isinstance(value, type) or _isinstance(value, descriptors) or _callable(value):
            return True
        return not name.startswith("_") and _isinstance(value, constants)

    def under_roots(modname):
        return _isinstance(modname, _str) and (modname in roots or modname.startswith(tuple(r + "." for r in roots)))

    modules = {}  # name -> (module, snapshot of its dict)
    classes = {}  # id(class) -> (class, snapshot of its __dict__)
    trusted_values = {}  # user-namespace name -> value a trusted cell left there

    def snapshot_class(cls):
        if _id(cls) in classes or not (_getattr(cls, "__flags__", 0) & heap_type):
            return
        try:
            classes[_id(cls)] = (cls, _dict(cls.__dict__))
        except Exception:
            pass

    def snapshot_modules():
        for modname, module in _list(sys.modules.items()):
            if modname in modules or not under_roots(modname) or not _isinstance(module, module_type):
                continue
            try:
                content = _dict(vars(module))
            except Exception:
                continue
            modules[modname] = (module, content)
            for value in content.values():
                if _isinstance(value, type) and under_roots(_getattr(value, "__module__", None)):
                    snapshot_class(value)

    def record(bound):
        for name in bound:
            value = user_ns.get(name, missing)
            if value is not missing:
                trusted_values[name] = value

    # -- the snapshot -------------------------------------------------------------------------------------------
    for sub in ("numpy.testing", "numpy.linalg"):  # looked up lazily by tests; bind them before anyone else can
        if under_roots(sub) and sub.split(".")[0] in sys.modules:
            try:
                __import__(sub)
            except Exception:
                pass
    snapshot_modules()
    builtins_snapshot = {k: v for k, v in _dict(vars(builtins)).items() if k not in ("input", "raw_input")}
    record(names)
    ns_builtins = user_ns.get("__builtins__", missing)
    # (not sys.excepthook, builtins.input: IPython and ipykernel set those anew for every request)
    sys_hooks = {n: _getattr(sys, n) for n in ("displayhook", "breakpointhook", "unraisablehook",
                                               "stdout", "stderr", "stdin") if _hasattr(sys, n)}
    meta_path, path_hooks = _list(sys.meta_path), _list(sys.path_hooks)
    trace, profile = sys.gettrace(), sys.getprofile()
    thread_hooks = {n: _getattr(threading, n, None) for n in ("_trace_hook", "_profile_hook")}
    gc_callbacks = _list(gc.callbacks)
    sigint = signal.getsignal(signal.SIGINT)
    shell_traits = {n: _getattr(shell, n) for n in ("ast_transformers", "input_transformers_cleanup",
                                                    "input_transformers_post", "displayhook", "display_pub",
                                                    "display_formatter", "compile", "events",
                                                    "input_transformer_manager", "user_ns")
                    if _hasattr(shell, n)}
    shell_lists = {n: _list(v) for n, v in shell_traits.items() if _isinstance(v, _list)}
    manager = shell_traits.get("input_transformer_manager")
    manager_lists = {n: (_getattr(manager, n), _list(_getattr(manager, n)))
                     for n in ("cleanup_transforms", "line_transforms", "token_transformers")
                     if _isinstance(_getattr(manager, n, None), _list)}
    events = shell_traits.get("events")
    callbacks = {n: (lst, _list(lst)) for n, lst in _dict(_getattr(events, "callbacks", {})).items()}
    instances = [(obj, {k: v for k, v in _dict(vars(obj)).items() if _callable(v)})
                 for obj in (shell, _getattr(shell, "kernel", None), _getattr(shell, "displayhook", None),
                             _getattr(shell, "display_pub", None), events, manager) if _hasattr(obj, "__dict__")]
    for obj, _ in instances:
        for cls in type(obj).__mro__:
            snapshot_class(cls)
    custom_exceptions = _getattr(shell, "custom_exceptions", ())
    library_callbacks = ("matplotlib", "IPython", "ipykernel", "ipywidgets")  # removed quietly: not evidence
    threads = _set(_id(t) for t in threading.enumerate())
    state = {"hidden": {}}

    # -- putting things back ------------------------------------------------------------------------------------
    def restore_dict(obj, current, snap, label, put, setter):
        for name, value in snap.items():
            if current.get(name, missing) is not value and guarded(name, value):
                try:
                    setter(obj, name, value)
                    put.append(label + name)
                except Exception:
                    pass

    def set_item(mapping, name, value):
        mapping[name] = value

    def restore():
        put = []
        restore_dict(builtins, vars(builtins), builtins_snapshot, "builtins.", put, _setattr)
        for modname, (module, snap) in _list(modules.items()):
            if sys.modules.get(modname, missing) is not module:
                sys.modules[modname] = module
                put.append("sys.modules[" + _repr(modname) + "]")
            restore_dict(module, vars(module), snap, modname + ".", put, _setattr)
        for cls, snap in _list(classes.values()):
            restore_dict(cls, cls.__dict__, snap, cls.__module__ + "." + cls.__qualname__ + ".", put, _setattr)
        for name, value in trusted_values.items():
            if user_ns.get(name, missing) is not value and _isinstance(value, code_types):
                user_ns[name] = value
                put.append("name " + name)
        if ns_builtins is not missing and user_ns.get("__builtins__", missing) is not ns_builtins:
            user_ns["__builtins__"] = ns_builtins
            put.append("name __builtins__")
        for name, value in sys_hooks.items():
            if _getattr(sys, name, missing) is not value:
                _setattr(sys, name, value)
                put.append("sys." + name)
        for label, lst, saved in (("sys.meta_path", sys.meta_path, meta_path),
                                  ("sys.path_hooks", sys.path_hooks, path_hooks),
                                  ("gc.callbacks", gc.callbacks, gc_callbacks)):
            if lst != saved:
                lst[:] = saved
                put.append(label)
        if sys.gettrace() is not trace:
            sys.settrace(trace)
            put.append("sys.settrace")
        if sys.getprofile() is not profile:
            sys.setprofile(profile)
            put.append("sys.setprofile")
        for name, value in thread_hooks.items():
            if _getattr(threading, name, None) is not value:
                _setattr(threading, name, value)
                put.append("threading." + name)
        if signal.getsignal(signal.SIGINT) is not sigint:
            signal.signal(signal.SIGINT, sigint)
            put.append("signal SIGINT handler")
        for name, value in shell_traits.items():
            if _getattr(shell, name, missing) is not value:
                try:
                    _setattr(shell, name, value)
                    put.append("IPython shell." + name)
                except Exception:
                    pass
        for name, saved in shell_lists.items():
            lst = shell_traits[name]
            if lst != saved:
                lst[:] = saved
                put.append("IPython shell." + name)
        for name, (lst, saved) in manager_lists.items():
            if _getattr(manager, name, None) is not lst:
                _setattr(manager, name, lst)
            if lst != saved:
                lst[:] = saved
                put.append("IPython input_transformer_manager." + name)
        for name, (lst, saved) in callbacks.items():
            if events.callbacks.get(name) is not lst:
                events.callbacks[name] = lst
                put.append("IPython events." + name)
            if [c for c in saved if c not in lst]:
                lst[:] = [c for c in lst if c in saved] + [c for c in saved if c not in lst]
                put.append("IPython events." + name)
        for name in _list(events.callbacks):
            if name not in callbacks:
                del events.callbacks[name]
                put.append("IPython events." + name)
        for name, (lst, saved) in callbacks.items():
            for callback in [c for c in lst if c not in saved]:
                lst.remove(callback)  # an event callback added since: it could re-patch as the cell starts
                if not _str(_getattr(callback, "__module__", "")).startswith(library_callbacks):
                    put.append("IPython events." + name)
        for obj, snap in instances:
            current = vars(obj)
            for name, value in snap.items():
                if current.get(name, missing) is not value:
                    current[name] = value
                    put.append(type(obj).__name__ + "." + name)
            for name in [n for n, v in current.items() if n not in snap and _callable(v)
                         and _hasattr(type(obj), n)]:
                del current[name]  # an instance attribute hiding a method of the class
                put.append(type(obj).__name__ + "." + name)
        if _getattr(shell, "custom_exceptions", missing) is not custom_exceptions:
            shell.custom_exceptions = custom_exceptions
            put.append("IPython shell.custom_exceptions")
        return put

    def before(refs):
        """Before a test cell: put everything back; hide builtin-shadowing names the test uses."""
        tracing = sys.gettrace() is not trace
        sys.settrace(trace)  # first: a trace function could otherwise step over what follows
        frame = sys._getframe()
        while frame is not None:
            frame.f_trace = None
            frame = frame.f_back
        put = restore()
        if tracing:
            put.append("sys.settrace")
        hidden = state["hidden"] = {}
        for name in refs:
            if name in builtin_names and name in user_ns and user_ns[name] is not trusted_values.get(name, missing):
                hidden[name] = user_ns.pop(name)
                put.append("hid name " + name + " (shadows a builtin)")
        extra = [t for t in threading.enumerate() if _id(t) not in threads and t.is_alive() and "__main__" in (
            _getattr(_getattr(t, "_target", None), "__module__", None), type(t).__module__)]  # the student's own
        if extra:
            put.append("threads started by the submission were running: "
                       + ", ".join(_sorted(_str(t.name) for t in extra)))
        return put

    def after(bound):
        """After a test cell: give hidden names back, record what the test bound."""
        for name, value in state["hidden"].items():
            if name not in user_ns:
                user_ns[name] = value
        state["hidden"] = {}
        trusted(bound)

    def trusted(bound):
        record(bound)
        snapshot_modules()

    guard = module_type(hook)
    guard.before, guard.after, guard.trusted = before, after, trusted
    sys.modules[hook] = guard
