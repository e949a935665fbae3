//! ioth: the Internet of Threads facade (being built).
