//! The socket behaviour suite on the kernel backend loaded from its plugin, ioth_kernel.so.
ioth_tests::socket_suite!(ioth_tests::fixtures::kernel_plugin());
