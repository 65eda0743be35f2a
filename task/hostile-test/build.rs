fn main() {
    build_util::expose_task_config();
}
