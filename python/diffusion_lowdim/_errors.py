"""The exceptions of diffusion_lowdim.

Every error the package raises derives from :class:`Error` and carries the Rust crate's
message, which says what is wrong and what to fix. The classes also derive from the
built-in exception that fits, so ``except ValueError`` catches bad input as usual:

==================  ===============================  ==========================================
class               also a                           raised for
==================  ===============================  ==========================================
``InputError``      ``ValueError``                   wrong shapes, NaN/inf, a non-orthonormal
                                                     basis, an invalid noise level, weights or
                                                     parameter, an unknown name
``DtypeError``      ``InputError``, ``TypeError``    an array that is not real (complex, bool,
                                                     object, strings)
``TooLargeError``   ``InputError``, ``MemoryError``  a size beyond the memory limits (refused
                                                     before allocating)
``NumericalError``  ``ArithmeticError``              a result that overflows f64, a
                                                     decomposition that does not converge, an
                                                     adaptive solver that cannot finish
``FileError``       ``OSError``                      an unreadable or malformed file (model
                                                     files, .npy, golden suites)
``GoldenError``     ``FileError``                    an invalid or altered golden suite
``InternalError``   ``RuntimeError``                 a bug (a Rust panic caught at the
                                                     boundary); please report it
==================  ===============================  ==========================================
"""

__all__ = [
    "Error",
    "InputError",
    "DtypeError",
    "TooLargeError",
    "NumericalError",
    "FileError",
    "GoldenError",
    "InternalError",
]


class Error(Exception):
    """Base class of every exception raised by diffusion_lowdim."""


class InputError(Error, ValueError):
    """Invalid input: shapes, NaN/inf, non-orthonormal bases, levels, parameters, names."""


class DtypeError(InputError, TypeError):
    """An array whose dtype is not real (complex, bool, object, strings)."""


class TooLargeError(InputError, MemoryError):
    """A size beyond the memory limits, refused before allocating."""


class NumericalError(Error, ArithmeticError):
    """Overflow of f64, a decomposition that does not converge, a solver that cannot finish."""


class FileError(Error, OSError):
    """An unreadable or malformed file (model file, .npy array, golden suite)."""


class GoldenError(FileError):
    """An invalid or altered golden suite."""


class InternalError(Error, RuntimeError):
    """A bug in diffusion-lowdim (a Rust panic caught at the boundary): please report it."""
