"""Call ml-inference-api over gRPC with plain grpcio stubs of the Open Inference Protocol's
official .proto (generate them first; see docs/open-inference.md):

    python3 -m grpc_tools.protoc -I specs/open-inference-protocol \
        --python_out=OUT --grpc_python_out=OUT open_inference_grpc.proto
    PYTHONPATH=OUT python3 examples/grpc_client.py localhost:8081 tests/fixtures/images/truck.jpg

Prints one JSON line: readiness, the image's label and probability (the file sent as raw
BYTES: a 4-byte little-endian length, then its bytes, as Triton's clients send them) and two
iris rows' labels (typed FP64 contents).
"""
import json
import struct
import sys

import grpc
import open_inference_grpc_pb2 as pb
import open_inference_grpc_pb2_grpc as rpc


def strings(raw):
    """The elements of a raw BYTES output: each a 4-byte little-endian length, then its bytes."""
    out, at = [], 0
    while at < len(raw):
        (n,) = struct.unpack_from("<I", raw, at)
        out.append(raw[at + 4 : at + 4 + n].decode())
        at += 4 + n
    return out


def main(address, image_path):
    with grpc.insecure_channel(address) as channel:
        stub = rpc.GRPCInferenceServiceStub(channel)
        ready = stub.ServerReady(pb.ServerReadyRequest()).ready

        with open(image_path, "rb") as f:
            image = f.read()
        request = pb.ModelInferRequest(model_name="cifar10", id="py-1")
        request.inputs.add(name="image", datatype="BYTES", shape=[1])
        request.raw_input_contents.append(struct.pack("<I", len(image)) + image)
        answer = stub.ModelInfer(request, timeout=10)
        names = [o.name for o in answer.outputs]
        probabilities = struct.unpack("<10f", answer.raw_output_contents[names.index("probabilities")])
        label = strings(answer.raw_output_contents[names.index("label")])[0]

        rows = pb.ModelInferRequest(model_name="iris")
        features = rows.inputs.add(name="features", datatype="FP64", shape=[2, 4])
        features.contents.fp64_contents.extend([5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3])
        rows.outputs.add(name="label")
        iris = stub.ModelInfer(rows, timeout=10)

    print(json.dumps({
        "ready": ready,
        "id": answer.id,
        "label": label,
        "probability": round(max(probabilities), 4),
        "iris": strings(iris.raw_output_contents[0]),
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
