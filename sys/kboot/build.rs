fn main() {
    build_util::expose_kernel_config();
}
