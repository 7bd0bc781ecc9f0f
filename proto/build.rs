//! Generates the gRPC types from `orders/v1/orders.proto` with a vendored `protoc`, so building needs no
//! system protobuf compiler, and writes the file descriptor set that server reflection serves.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    let wkt = protoc_bin_vendored::include_path()?;
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("orders_v1_descriptor.bin"))
        .compile_with_config(
            config,
            &[PathBuf::from("orders/v1/orders.proto")],
            &[PathBuf::from("."), wkt],
        )?;
    println!("cargo:rerun-if-changed=orders/v1/orders.proto");
    Ok(())
}
