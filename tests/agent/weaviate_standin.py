"""A Weaviate stand-in that speaks the protocols the v4 client really uses, for the Weaviate store's tests.

Weaviate cannot run here (its embedded mode downloads a binary), so this serves the REST endpoints the
client calls (meta, readiness, schema, object delete) from FastAPI under uvicorn, and the
`weaviate.v1.Weaviate` gRPC service (Search, BatchObjects) from a real `grpc.server` built on the
protobuf modules that ship inside weaviate-client (`weaviate.proto.v1`, the version the client picked).
It is stricter than a default Weaviate (no auto-schema: an unknown collection, property or named vector is
an error, and so is a vector whose length differs from the collection's first) and ranks with Weaviate's
BM25 formula over whitespace tokens of the searched properties; a hybrid query fuses that BM25 with the
cosine of the stored vectors as Weaviate's default relative-score fusion does (each scaled to 0..1 over
its own hits, then weighed by alpha; `weaviate_ranking.py`). Every request is kept in `calls` for
assertions. It lives next to agent_testkit.py so that tests under knowledge/ and diagnosis/ can both
import it.
"""

from __future__ import annotations

import re
import struct
import threading
import uuid as uuid_lib
from concurrent import futures
from datetime import datetime
from typing import Any

import grpc
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from google.protobuf.json_format import MessageToDict
from weaviate.proto.v1 import (
    base_pb2,
    base_search_pb2,
    batch_pb2,
    properties_pb2,
    search_get_pb2,
    weaviate_pb2_grpc,
)

from lab.runner.ports import free_port

from .agent_testkit import ServedApp
from .weaviate_ranking import bm25, hybrid

VERSION = "1.28.4"
TYPES = {"text", "text[]", "number", "int", "boolean", "date"}
_CLASS = re.compile(r"^[A-Z][_0-9A-Za-z]*$")
Vectors = base_pb2.Vectors


class WeaviateStandIn(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, api_key: str = "") -> None:
        self.api_key = api_key
        self.schemas: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.vectors: dict[str, dict[str, dict[str, list[float]]]] = {}  # collection → uuid → name → vector
        self.calls: list[dict[str, Any]] = []
        self.rest_port, self.grpc_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.rest_port}"
        self._lock = threading.Lock()
        self._rest: ServedApp | None = None
        self._grpc: grpc.Server | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> WeaviateStandIn:
        """Serve on the same two ports every time, so a stop/start is Weaviate restarting."""
        self._rest = ServedApp(self._rest_app(), port=self.rest_port).__enter__()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(self, server)
        server.add_insecure_port(f"127.0.0.1:{self.grpc_port}")
        server.start()
        self._grpc = server
        return self

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=0).wait(5)
            self._grpc = None
        if self._rest is not None:
            self._rest.__exit__()
            self._rest = None

    def calls_of(self, kind: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["kind"] == kind]

    # ---------------------------------------------------------------- REST
    def _rest_app(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def auth(request: Request, call_next: Any) -> Response:
            if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
                return JSONResponse({"error": [{"message": "unauthorized"}]}, status_code=401)
            self.calls.append({"kind": f"rest {request.method} {request.url.path}"})
            response: Response = await call_next(request)
            return response

        @app.get("/v1/meta")
        def meta() -> dict[str, Any]:
            return {"hostname": "http://[::]:8080", "modules": {}, "version": VERSION}

        @app.get("/v1/.well-known/ready")
        def ready() -> Response:
            return Response(status_code=200)

        @app.get("/v1/schema/{name}")
        def get_class(name: str) -> Response:
            if name not in self.schemas:
                return Response(status_code=404)
            return JSONResponse(self.schemas[name])

        @app.post("/v1/schema")
        async def create_class(request: Request) -> Response:
            body = await request.json()
            problem = self._check_class(body)
            if problem:
                return JSONResponse({"error": [{"message": problem}]}, status_code=422)
            with self._lock:
                self.schemas[body["class"]] = body
                self.objects[body["class"]] = {}
                self.vectors[body["class"]] = {}
            return JSONResponse(body)

        @app.delete("/v1/objects/{name}/{object_id}")
        def delete_object(name: str, object_id: str) -> Response:
            with self._lock:
                gone = self.objects.get(name, {}).pop(object_id, None)
                self.vectors.get(name, {}).pop(object_id, None)
            return Response(status_code=204 if gone is not None else 404)

        return app

    def _check_class(self, body: dict[str, Any]) -> str:
        name = str(body.get("class", ""))
        if not _CLASS.match(name):
            return f"invalid class name {name!r}"
        if name in self.schemas:
            return f"class name {name!r} already exists"
        vectors = body.get("vectorConfig") or {}
        if any(v.get("vectorizer") != {"none": {}} for v in vectors.values()) or not vectors:
            return "this stand-in has no vectorizer modules: vectors must be self-provided"
        for prop in body.get("properties", []):
            if prop.get("dataType", [None])[0] not in TYPES:
                return f"property {prop.get('name')!r}: unsupported dataType {prop.get('dataType')}"
        return ""

    # ---------------------------------------------------------------- gRPC
    def _authorised(self, context: grpc.ServicerContext) -> None:
        if self.api_key and dict(context.invocation_metadata()).get("authorization") != (
            f"Bearer {self.api_key}"
        ):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "unauthorized")

    def _types(self, collection: str, context: grpc.ServicerContext) -> dict[str, str]:
        if collection not in self.schemas:
            context.abort(grpc.StatusCode.NOT_FOUND, f"collection {collection!r} not found")
        return {p["name"]: p["dataType"][0] for p in self.schemas[collection].get("properties", [])}

    def Search(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._authorised(context)
        types = self._types(request.collection, context)
        if any(request.HasField(f) for f in ("filters", "near_vector", "near_text")):
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "only bm25, hybrid and cursor reads are served here")
        everything = not request.HasField("properties") or request.properties.return_all_nonref_properties
        wanted = list(types) if everything else list(request.properties.non_ref_properties)
        searched_props = [*request.bm25_search.properties, *request.hybrid_search.properties]
        unknown = [p for p in [*wanted, *searched_props] if p not in types]
        if unknown:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no such properties: {unknown}")
        limit = request.limit or 10  # 0: unset, the server default
        call = dict(kind="search", collection=request.collection, limit=limit, properties=sorted(wanted))
        call["metadata"] = sorted(k for k, v in MessageToDict(request.metadata).items() if v is True)
        returned_vectors = list(request.metadata.vectors)
        if returned_vectors:
            call["vectors"] = returned_vectors
        unknown_vectors = set(returned_vectors) - set(self.schemas[request.collection]["vectorConfig"])
        if unknown_vectors:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no such vectors: {sorted(unknown_vectors)}")
        with self._lock:
            stored = dict(self.objects[request.collection])
            vectors = dict(self.vectors[request.collection])
        if request.HasField("hybrid_search"):
            if request.after:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a cursor cannot be combined with hybrid")
            call |= self._hybrid_call(request.collection, request.hybrid_search, context)
            searchable = self._searchable(request.collection)
            hits = hybrid(call, stored, vectors, {p: searchable[p] for p in call["query_properties"]})[:limit]
        elif request.HasField("bm25_search"):
            if request.after:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "a cursor cannot be combined with bm25")
            searchable = self._searchable(request.collection)
            searched = list(request.bm25_search.properties) or list(searchable)
            if any(p not in searchable for p in searched):
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not all of {searched} are searchable text")
            call |= {"query": request.bm25_search.query, "query_properties": searched}
            hits = bm25(request.bm25_search.query, stored, {p: searchable[p] for p in searched})[:limit]
        else:
            ordered = sorted(u for u in stored if not request.after or u > request.after)
            hits = [(u, 0.0) for u in ordered[:limit]]
        self.calls.append(call)
        scores = request.metadata.score and call.get("query") is not None  # only when asked for
        results = [
            self._result(
                request.collection,
                u,
                stored[u],
                wanted,
                types,
                score if scores else None,
                {name: v for name, v in vectors.get(u, {}).items() if name in returned_vectors},
            )
            for u, score in hits
        ]
        return search_get_pb2.SearchReply(took=0.001, results=results)

    def _hybrid_call(self, collection: str, hybrid: Any, context: grpc.ServicerContext) -> dict[str, Any]:
        """What a hybrid request asks for, checked as Weaviate would: one target, a vector of its length."""
        searchable = self._searchable(collection)
        searched = list(hybrid.properties) or list(searchable)
        if any(p not in searchable for p in searched):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not all of {searched} are searchable text")
        targets = list(hybrid.targets.target_vectors) or list(hybrid.target_vectors)
        named = list(self.schemas[collection]["vectorConfig"])
        if not targets and len(named) == 1:
            targets = named
        if len(targets) != 1 or targets[0] not in named:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"target vector {targets} is not one of {named}")
        if hybrid.HasField("near_vector") or hybrid.HasField("near_text") or len(hybrid.vectors):
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "only a plain vector_bytes vector is served here")
        vector = _floats(hybrid.vector_bytes) if hybrid.vector_bytes else None
        dimension = self._dimension(collection, targets[0])
        if vector is not None and dimension is not None and len(vector) != dimension:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"vector length {len(vector)} != {dimension}")
        return {
            "query": hybrid.query or None,  # proto3: an unset query is ""
            "query_properties": searched,
            "alpha": round(hybrid.alpha, 4),
            "fusion": base_search_pb2.Hybrid.FusionType.Name(hybrid.fusion_type),
            "target": targets[0],
            "vector": vector,
        }

    def _dimension(self, collection: str, name: str) -> int | None:
        """The length of the collection's vectors of `name`: the first one written fixes it."""
        for named in self.vectors[collection].values():
            if name in named:
                return len(named[name])
        return None

    def _searchable(self, collection: str) -> dict[str, str]:
        """Searchable text properties and their tokenization (Weaviate's default is `word`)."""
        return {
            p["name"]: p.get("tokenization", "word")
            for p in self.schemas[collection].get("properties", [])
            if p["dataType"] == ["text"] and p.get("indexSearchable", True)
        }

    def _result(
        self,
        collection: str,
        object_id: str,
        props: dict[str, Any],
        wanted: list[str],
        types: dict[str, str],
        score: float | None,
        vectors: dict[str, list[float]],
    ) -> Any:
        meta = search_get_pb2.MetadataResult(id=object_id, id_as_bytes=uuid_lib.UUID(object_id).bytes)
        if score is not None:
            meta.score, meta.score_present = score, True
        for name, vector in vectors.items():
            meta.vectors.append(
                Vectors(name=name, vector_bytes=_pack(vector), type=Vectors.VECTOR_TYPE_SINGLE_FP32)
            )
        fields = {name: _value(types[name], props.get(name)) for name in wanted}
        return search_get_pb2.SearchResult(
            metadata=meta,
            properties=search_get_pb2.PropertiesResult(
                target_collection=collection, non_ref_props=properties_pb2.Properties(fields=fields)
            ),
        )

    def BatchObjects(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._authorised(context)
        errors = []
        for index, obj in enumerate(request.objects):
            try:
                props = self._properties(obj)
                vectors = self._object_vectors(obj)
            except ValueError as exc:
                errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error=str(exc)))
                continue
            with self._lock:  # an upsert, as Weaviate: the whole object is replaced, vectors too
                self.objects[obj.collection][str(uuid_lib.UUID(obj.uuid))] = props
                self.vectors[obj.collection][str(uuid_lib.UUID(obj.uuid))] = vectors
            self.calls.append(
                {
                    "kind": "batch",
                    "collection": obj.collection,
                    "uuid": obj.uuid,
                    "properties": props,
                    "vectors": {name: len(v) for name, v in vectors.items()},
                }
            )
        return batch_pb2.BatchObjectsReply(took=0.001, errors=errors)

    def _properties(self, obj: Any) -> dict[str, Any]:
        if obj.collection not in self.schemas:
            raise ValueError(f"collection {obj.collection!r} not found")
        uuid_lib.UUID(obj.uuid)
        types = {p["name"]: p["dataType"][0] for p in self.schemas[obj.collection]["properties"]}
        given: dict[str, Any] = MessageToDict(obj.properties.non_ref_properties)
        given |= {a.prop_name: list(a.values) for a in obj.properties.text_array_properties}
        given |= {name: [] for name in obj.properties.empty_list_props}
        for name, value in given.items():
            kind = types.get(name)
            if kind is None:
                raise ValueError(f"no such prop with name {name!r} in class {obj.collection!r}")
            if not _fits(kind, value):
                raise ValueError(f"invalid {kind} property {name!r}: {value!r}")
        return given

    def _object_vectors(self, obj: Any) -> dict[str, list[float]]:
        """Named single vectors as float32 bytes; an unnamed one is refused (both collections name theirs)."""
        if obj.vector_bytes or len(obj.vector):
            raise ValueError("an unnamed vector for a collection with named vectors")
        named = self.schemas[obj.collection]["vectorConfig"]
        vectors = {}
        for given in obj.vectors:
            if given.name not in named:
                raise ValueError(f"no vector named {given.name!r} in class {obj.collection!r}")
            if given.type not in (Vectors.VECTOR_TYPE_UNSPECIFIED, Vectors.VECTOR_TYPE_SINGLE_FP32):
                raise ValueError(f"vector {given.name!r}: only single float32 vectors are served here")
            vector = _floats(given.vector_bytes)
            dimension = self._dimension(obj.collection, given.name)
            if not vector or (dimension is not None and len(vector) != dimension):
                raise ValueError(f"vector {given.name!r}: length {len(vector)}, the collection's {dimension}")
            vectors[given.name] = vector
        return vectors


def _floats(data: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(data) // 4}f", data))


def _pack(vector: list[float]) -> bytes:
    return struct.pack(f"<{len(vector)}f", *vector)


def _fits(kind: str, value: Any) -> bool:
    if kind == "text":
        return isinstance(value, str)
    if kind == "text[]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind in ("number", "int"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "date":
        try:
            return isinstance(value, str) and datetime.fromisoformat(value) is not None
        except ValueError:
            return False
    return isinstance(value, bool)


def _value(kind: str, value: Any) -> Any:
    if value is None:
        return properties_pb2.Value(null_value=0)
    if kind == "text[]":
        return properties_pb2.Value(
            list_value=properties_pb2.ListValue(text_values=properties_pb2.TextValues(values=value))
        )
    if kind in ("number", "int"):
        return properties_pb2.Value(number_value=float(value))
    if kind == "date":
        return properties_pb2.Value(date_value=value)
    if kind == "boolean":
        return properties_pb2.Value(bool_value=value)
    return properties_pb2.Value(text_value=value)
