//! The socket behaviour suite on smoltcp stacks loaded from the plugin ioth_smoltcp.so.
ioth_tests::socket_suite!(ioth_tests::fixtures::smoltcp_plugin_pair());
