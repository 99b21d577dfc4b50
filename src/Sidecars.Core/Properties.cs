using System.Runtime.CompilerServices;

// Stack buffers on the decision path are fully written before use; zeroing them would be wasted work.
[module: SkipLocalsInit]
