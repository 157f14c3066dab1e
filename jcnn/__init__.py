"""jcnn: the classic CNN canon as clean, functional JAX.

Import the parts you need (`jcnn.nn`, `jcnn.models`, `jcnn.data`, ...); importing the
package itself has no side effects and pulls in nothing heavy.
"""

__version__ = "0.1.0"
